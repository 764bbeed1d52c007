"""Fixtures for softswitch tests: the compiled programs and switch targets on veth pairs.

Forwarding tests are parametrized over targets; BMv2 is skipped only when simple_switch_grpc is absent.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from ss_helpers import FDIR_BUILD, PROGRAMS, TARGETS, HostPort, LocalSwitch, P4RTClient, Target, VethSet, skip_if_absent


def _compiled(src: Path, outdir: Path, stem: str) -> tuple[Path, Path]:
    """(p4info, json) for a program: the committed build, else a scratch build with p4c if present."""
    json_path, p4info_path = outdir / f"{stem}.json", outdir / f"{stem}.p4info.txtpb"
    if json_path.exists() and p4info_path.exists():
        return p4info_path, json_path
    if shutil.which("p4c") is None:
        pytest.fail(f"{json_path} is missing and p4c is not on PATH to build it")
    outdir = Path(tempfile.gettempdir()) / f"softswitch-test-build-{stem}"   # never write into the repo
    json_path, p4info_path = outdir / f"{stem}.json", outdir / f"{stem}.p4info.txtpb"
    outdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["p4c", "--target", "bmv2", "--arch", "v1model", "--p4runtime-files", str(p4info_path),
                    "-o", str(outdir), str(src)], check=True)
    return p4info_path, json_path


def program(stem: str) -> tuple[Path, Path]:
    """(p4info, json) of tests/softswitch/programs/<stem>.p4."""
    return _compiled(PROGRAMS / f"{stem}.p4", PROGRAMS, stem)


@pytest.fixture(scope="session")
def fdir_program() -> tuple[Path, Path]:
    return _compiled(FDIR_BUILD.parent / "fdir.p4", FDIR_BUILD, "fdir")


@pytest.fixture(scope="session")
def features_program() -> tuple[Path, Path]:
    return _compiled(PROGRAMS / "ss_features.p4", PROGRAMS, "ss_features")


class Rig:
    """A target with n ports, a P4Runtime client and host-side sockets."""

    def __init__(self, kind: str, nports: int, cpu_port: int | None = None) -> None:
        self.kind = kind
        self.veths = VethSet(nports)
        try:
            self.target = Target(kind, self.veths, cpu_port=cpu_port)
        except Exception:
            self.veths.close()
            raise
        self.client = P4RTClient(self.target.addr)
        self.hosts = {i: HostPort(name) for i, name in self.veths.host.items()}

    def load(self, program: tuple[Path, Path]) -> P4RTClient:
        """(Re)load the program: a fresh pipeline, empty tables and zero counters."""
        self.client.set_pipeline(*program)
        for h in self.hosts.values():
            h.drain()
        return self.client

    def send(self, port: int, frame: bytes) -> None:
        self.hosts[port].send(frame)

    def outputs(self, wait: float = 2.0, settle: float = 0.15) -> dict[int, list[bytes]]:
        """Frames out of each port: wait up to `wait` s for the first, then `settle` s for more."""
        import select
        import time
        out: dict[int, list[bytes]] = {}
        by_sock = {h.sock: i for i, h in self.hosts.items()}
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            ready, _, _ = select.select(list(by_sock), [], [], left)
            for s in ready:
                out.setdefault(by_sock[s], []).append(self.hosts[by_sock[s]].recv_frame())
            if out:
                deadline = min(deadline, time.monotonic() + settle)

    def nothing_out(self, wait: float = 0.5) -> bool:
        return not self.outputs(wait=wait)

    def packet_out(self, payload: bytes, metadata: dict[int, bytes] | None = None) -> None:
        self.client.packet_out(payload, metadata)

    def packet_ins(self, wait: float = 2.0) -> list:
        import queue
        got = []
        try:
            got.append(self.client.packets.get(timeout=wait))
            while True:
                got.append(self.client.packets.get(timeout=0.1))
        except queue.Empty:
            return got

    def close(self) -> None:
        for h in self.hosts.values():
            h.close()
        try:
            self.client.close()
        finally:
            self.target.stop()
            self.veths.close()


# "local": softswitch's Device in-process (no root); the others run a switch process on veths.
RIG_PARAMS = ["local"] + [pytest.param(t, marks=pytest.mark.root) for t in TARGETS]


def make_rig(request: pytest.FixtureRequest, nports: int, cpu_port: int | None = None):
    kind = request.param
    if kind == "local":
        return LocalSwitch(cpu_port)
    skip_if_absent(kind)
    rig = Rig(kind, nports, cpu_port)
    request.addfinalizer(rig.close)
    return rig


@pytest.fixture(scope="module", params=RIG_PARAMS)
def fdir_rig(request: pytest.FixtureRequest) -> Rig:
    return make_rig(request, 4)


@pytest.fixture(scope="module", params=RIG_PARAMS)
def features_rig(request: pytest.FixtureRequest) -> Rig:
    return make_rig(request, 3, cpu_port=64)
