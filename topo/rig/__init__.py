"""Rigs that tests and benchmarks share: switch processes (softswitch or BMv2's
simple_switch_grpc) on veth pairs, a small P4Runtime client, softswitch in-process, and an
in-process fake P4Runtime server.

Part of topo/ (the layer on top of softswitch/ and controller/), so that bench/ imports it
from a package and not from tests/.
"""
