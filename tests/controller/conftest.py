"""Fixtures for controller integration tests: a switch process per test, parametrized over
softswitch and BMv2 (skipped only when simple_switch_grpc is not on PATH), and fdirctl runs."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ctl_fake_p4rt import FakeSwitch
from ctl_helpers import Fdirctl, SwitchProc, program_files, synthetic_p4info

# "fake" is an in-process P4Runtime dict store (ctl_fake_p4rt): it checks the controller's
# logic even without a compiled program; softswitch and BMv2 are the real switches.
TARGETS = ["fake", "softswitch", "bmv2"]


@pytest.fixture(scope="session")
def compiled() -> tuple[Path, Path] | None:
    return program_files()


@pytest.fixture(params=TARGETS)
def target(request) -> str:
    if request.param == "bmv2" and shutil.which("simple_switch_grpc") is None:
        pytest.skip("simple_switch_grpc (BMv2) is not on PATH")
    return request.param


@pytest.fixture
def program(target, compiled, tmp_path_factory) -> tuple[Path, Path]:
    if target == "fake":
        from google.protobuf import text_format
        d = tmp_path_factory.mktemp("fakeprog")
        (d / "fdir.p4info.txtpb").write_text(text_format.MessageToString(synthetic_p4info()))
        (d / "fdir.json").write_text("{}")
        return d / "fdir.p4info.txtpb", d / "fdir.json"
    # p4src/build is committed: its absence is a broken checkout, not a reason to skip.
    assert compiled is not None, "p4src/build/fdir.json + fdir.p4info.txtpb missing"
    return compiled


@pytest.fixture
def switch(target, program, tmp_path):
    sw = FakeSwitch() if target == "fake" else SwitchProc(target, log_dir=tmp_path)
    yield sw
    sw.stop()


@pytest.fixture
def fdirctl(switch, program, capsys) -> Fdirctl:
    return Fdirctl(switch, program, capsys)
