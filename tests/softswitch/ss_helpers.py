"""Helpers for softswitch tests. The rigs (P4Runtime client, veth pairs, switch processes,
softswitch in-process) live in topo/rig/, shared with bench/; they are re-exported here.

The same helpers drive softswitch and BMv2's simple_switch_grpc so that tests run unchanged on both.
"""
from __future__ import annotations

from pathlib import Path

from topo.rig.p4rt import Names, P4RTClient, enc, free_port, load_p4info
from topo.rig.switches import BMV2, REPO, LocalSwitch, Target
from topo.rig.veth import HostPort, VethSet, sh

__all__ = ["BMV2", "FDIR_BUILD", "PROGRAMS", "REPO", "TARGETS", "HostPort", "LocalSwitch", "Names", "P4RTClient",
           "Target", "VethSet", "enc", "free_port", "load_p4info", "sh", "skip_if_absent"]

PROGRAMS = Path(__file__).resolve().parent / "programs"
FDIR_BUILD = REPO / "p4src" / "build"
TARGETS = ["softswitch", "bmv2"]


def skip_if_absent(kind: str) -> None:
    import pytest
    if kind == "bmv2" and BMV2 is None:
        pytest.skip("simple_switch_grpc (BMv2) is not on PATH; the softswitch variant of this test ran")
