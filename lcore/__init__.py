"""fdirlab lcore workers: per-lcore conn tables and sa_pools doing real full-NAT on raw
frames, with DPVS-style flow-director affinity or VPP NAT44-ED-style software handoff.

Pure logic (sa_pool, conn_table, tcp_state, scheduler, nat, frames, datapath) needs no
root; worker.py does the AF_PACKET I/O and control.py serves the per-worker control socket.
"""
