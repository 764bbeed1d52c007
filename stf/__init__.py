"""A runner of p4c's STF tests (testdata/p4_16_samples/*.stf) over P4Runtime.

It drives any P4Runtime target (softswitch, BMv2's simple_switch_grpc) with the STF files
p4c's own BMv2 test driver (backends/bmv2/bmv2stf.py) runs through simple_switch's CLI and pcap
files: table entries, multicast groups and clone sessions become P4Runtime Write updates,
packets go through one TUN device per STF port. Sits on top: imports controller/ and topo/.
"""
