"""Shared pure logic of fdirlab: the DPVS mask math and the port-partition schemes.

Nothing here does I/O; controller/, lcore/ and topo/ build on it, never the reverse.
"""
