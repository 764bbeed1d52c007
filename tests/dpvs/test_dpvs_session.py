"""All or nothing across the workers: when one worker refuses, the ones already changed are
put back (controller/dpvs_session.on_all_workers), and the refusal is what the user sees."""
from __future__ import annotations

import pytest

from controller import errors as E
from controller.dpvs_session import on_all_workers, split_addr_port
from controller.workers import WorkerRefused, WorkerSet


class Stub:
    def __init__(self, lcore: int, refuse: bool = False) -> None:
        self.lcore, self.refuse, self.log = lcore, refuse, []

    def info(self) -> dict:
        return {"ok": True}

    def call(self, op: str, **args: object) -> dict:
        if self.refuse and op == "dest_add":
            raise WorkerRefused(f"lcore {self.lcore} worker refused {op}: nope", lcore=self.lcore)
        self.log.append(op)
        return {"ok": True}


def test_a_refusal_undoes_the_workers_already_changed():
    stubs = [Stub(0), Stub(1), Stub(2, refuse=True), Stub(3)]
    ws = WorkerSet.of(stubs)  # type: ignore[arg-type]
    with pytest.raises(WorkerRefused, match="lcore 2 worker refused dest_add"):
        on_all_workers(ws, "dest_add", {}, lambda w: w.call("dest_del") and None)
    undone = ["dest_add", "dest_del"]
    assert [c.log for c in stubs] == [undone, undone, [], []]


def test_all_workers_change_when_none_refuses():
    ws = WorkerSet.of([Stub(0), Stub(1)])  # type: ignore[list-item]
    assert len(on_all_workers(ws, "svc_add", {}, None)) == 2
    assert [c.log for c in ws.clients] == [["svc_add"], ["svc_add"]]


@pytest.mark.parametrize("text,want", [
    ("10.0.0.1:80", ("10.0.0.1", 80)), ("[fd00::1]:8080", ("fd00::1", 8080)),
    ("10.0.0.1", ("10.0.0.1", 443)), ("[fd00::0001]", ("fd00::1", 443)),
])
def test_split_addr_port(text, want):
    assert split_addr_port(text, "-r", 443) == want


@pytest.mark.parametrize("text,msg", [
    ("fd00::1:80", "missing :PORT"), ("[fd00::1]80", r"expected \[IPv6\]:PORT"),
    ("10.0.0.1:0", "port '0'"), ("host:80", "'host' is not an IP address"),
])
def test_split_addr_port_errors(text, msg):
    with pytest.raises(E.BadInput, match=msg):
        split_addr_port(text, "-t")
