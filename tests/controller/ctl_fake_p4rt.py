"""The in-process fake P4Runtime server lives in topo/rig/fake_p4rt.py (bench/ uses it too)."""
from topo.rig.fake_p4rt import FakeP4Runtime, FakeSwitch

__all__ = ["FakeP4Runtime", "FakeSwitch"]
