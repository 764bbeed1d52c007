"""The Mininet lab of fdirlab: hosts, the P4 switch (BMv2 or softswitch), lcore workers and
real servers, built from a lab file (fdirlab.lab_config) and driven through the controller."""
