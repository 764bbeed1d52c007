"""Where the compiled NIC program lives: p4src/build/fdir.json (BMv2) and its P4Info.

The build outputs are committed (p4c is in no package registry), so nothing needs a compiler.
"""
from pathlib import Path

SOURCE = Path(__file__).with_name("fdir.p4")
BUILD_DIR = Path(__file__).with_name("build")
BMV2_JSON = BUILD_DIR / "fdir.json"
P4INFO = BUILD_DIR / "fdir.p4info.txtpb"
