"""Every row of docs/doctor.md on a real softswitch and four real `python -m lcore` workers
(veth pairs, needs root): build the disagreement, see doctor report it (exit 7 for an
error), apply the fix doctor prints, see doctor clean again. The rig is shared by the rows;
each row leaves it clean for the next."""
from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time

import pytest
from ctl_helpers import REPO, Fdirctl, SwitchProc, program_files

from controller.entries import COOKIE_HAND
from controller.p4names import P4Names
from controller.p4rt_client import DELETE, INSERT, MODIFY, P4RTClient
from controller.rules import hand_filter
from controller.state import read_state
from controller.workers import WorkerClient
from fdirlab.lab_config import default_lab
from fdirlab.run_record import WorkerRecord, read_record, write_record

pytestmark = pytest.mark.root
N = 4
LAB_MAC = "02:fd:00:00:00:01"
# the local addresses of the lab file the rig writes (the built-in default lab's)
BASE = set(default_lab().laddrs)


class Rig:
    def __init__(self, tmp, target: str = "softswitch") -> None:
        self.tmp = tmp
        self.run = tmp / "run"
        self.run.mkdir()
        self.tag = f"d{target[0]}{os.getpid() % 100000}"
        self.veths: list[str] = []
        self.sw = SwitchProc(target, log_dir=tmp)
        self.lab = tmp / "lab.toml"
        self.lab.write_text(f'[lab]\nname = "rows"\nrun_dir = "{self.run}"\n'
                            f'[switch]\ngrpc_addr = "{self.sw.addr}"\n')
        for i in range(N):
            a, b = f"{self.tag}a{i}", f"{self.tag}b{i}"
            subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
            self.veths.append(a)
            for d in (a, b):
                subprocess.run(["ip", "link", "set", d, "up"], check=True)
            self.start_worker(i, b)
        for i in range(N):
            self.wait_worker(i)

    def argv(self, i: int, iface: str) -> list[str]:
        return [sys.executable, "-m", "lcore", "--iface", iface, "--lcore-id", str(i), "--n-lcores", str(N),
                "--scheme", "lsb", "--mode", "fdir", "--mac", LAB_MAC, "--ctl", str(self.run / f"lcore-{i}.sock")]

    def start_worker(self, i: int, iface: str, n: int = N) -> None:
        log = self.tmp / f"lcore-{i}.log"
        argv = self.argv(i, iface)
        argv[argv.index("--n-lcores") + 1] = str(n)
        with open(log, "ab") as f:
            p = subprocess.Popen(argv, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        write_record(self.run, WorkerRecord(i, argv, str(REPO), None, str(log), p.pid))

    def wait_worker(self, i: int) -> None:
        deadline = time.monotonic() + 20
        while not (self.run / f"lcore-{i}.sock").exists():
            assert time.monotonic() < deadline, f"worker {i} did not start"
            time.sleep(0.05)

    def worker(self, i: int) -> WorkerClient:
        return WorkerClient(i, str(self.run / f"lcore-{i}.sock"))

    def kill_worker(self, i: int) -> None:
        rec = read_record(self.run, i)
        os.kill(rec.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while os.path.exists(f"/proc/{rec.pid}") and time.monotonic() < deadline:
            try:
                os.waitpid(rec.pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.02)

    def close(self) -> None:
        for i in range(N):
            try:
                rec = read_record(self.run, i)
                os.kill(rec.pid, signal.SIGTERM)
            except (OSError, Exception):
                pass
        self.sw.stop()
        for a in self.veths:
            subprocess.run(["ip", "link", "del", a], capture_output=True)


def _initialised(r: Rig) -> Rig:
    """The switch initialised and reconciled by the real CLI, so that any one test of this
    module also runs alone (`pytest -k NAME`), not only after test_rig_starts_clean."""
    for cmd in ("init", "reconcile"):
        p = subprocess.run(fix_cmd(r, cmd), capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            r.close()
            raise AssertionError(f"fdirctl {cmd}: {p.returncode} {p.stderr}")
    return r


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    r = _initialised(Rig(tmp_path_factory.mktemp("rows")))
    yield r
    r.close()


@pytest.fixture(scope="module")
def rig_bmv2(tmp_path_factory):
    import shutil
    if shutil.which("simple_switch_grpc") is None:
        pytest.skip("simple_switch_grpc (BMv2) is not on PATH")
    r = _initialised(Rig(tmp_path_factory.mktemp("rows-bmv2"), "bmv2"))
    yield r
    r.close()


def _ctl(rig, capsys):
    f = Fdirctl(rig.sw, program_files(), capsys)

    def run(*args: str) -> tuple[int, dict, str]:
        return f("--lab", str(rig.lab), *args, workers=True)
    return run


@pytest.fixture
def ctl(rig, capsys):
    return _ctl(rig, capsys)


def fix_cmd(rig, *args: str) -> list[str]:
    return [sys.executable, "-m", "controller", "--lab", str(rig.lab), *args]


def doctor_codes(ctl) -> tuple[int, dict[str, dict]]:
    code, res, err = ctl("doctor")
    assert "findings" in res, (code, err)
    return code, {f["code"]: f for f in res["findings"]}


def switch_write(rig, updates) -> None:
    names = P4Names.from_file(program_files()[0])
    with P4RTClient(rig.sw.addr, 1).connect() as c:
        c.write(updates, fill=lambda te, e: names.encode(e, te))


def switch_state(rig):
    names = P4Names.from_file(program_files()[0])
    with P4RTClient(rig.sw.addr, 1).connect(arbitrate=False) as c:
        return read_state(c, names)


def _restart_switch(rig):
    os.kill(rig.sw.proc.pid, signal.SIGKILL)
    rig.sw.proc.wait()
    rig.sw.start()


def _del_one_entry(rig):
    st = switch_state(rig)
    e = [x for x in st.laddrs["10.0.0.200"].entries if x.table == "fdir_v4"][0]
    switch_write(rig, [(DELETE, e)])


def _miss_drop(rig):
    from controller.entries import Entry
    switch_write(rig, [(MODIFY, Entry("lb_miss_policy", (), "drop_miss", default=True))])


def _miss_lcore(rig):       # every new conn to a VIP on lcore 2 (port 3)
    from controller.entries import Entry
    switch_write(rig, [(MODIFY, Entry("lb_miss_policy", (), "steer", (("port", 3),), default=True))])


def _other_lab(rig):    # another lab's init on this switch: another LB MAC, every entry of ours dropped
    subprocess.run(fix_cmd(rig, "--no-workers", "init", "--force", "--lb-mac", "02:00:00:00:99:99"),
                   check=True, capture_output=True)


def _overlap(rig):      # another controller writes a hand-marked filter at the generated priority
    e = hand_filter("10.0.0.200", 1, 0x1, "tcp", 3, priority=10)
    assert e.cookie == COOKIE_HAND
    switch_write(rig, [(INSERT, e)])


def _kill_writer(rig):         # an fdirctl killed while it held the writer lock (kill -9, OOM)
    code = ("import os, signal, sys; from controller.writelock import WriteLock; "
            "WriteLock(sys.argv[1], 1, 30, 'laddr add 10.0.0.99').acquire(); os.kill(os.getpid(), signal.SIGKILL)")
    p = subprocess.run([sys.executable, "-c", code, rig.sw.addr], cwd=REPO, timeout=60)
    assert p.returncode == -signal.SIGKILL


def _del_all_laddrs(rig):      # another controller removes every local address from the switch
    st = switch_state(rig)
    ents = [e for ls in st.laddrs.values() for e in ls.entries]
    ents.sort(key=lambda e: e.table.startswith("fdir_"))
    switch_write(rig, [(DELETE, e) for e in ents])


def _wrong_worker(rig):       # lcore 3's worker started by hand for 8 lcores
    rig.kill_worker(3)
    rig.start_worker(3, f"{rig.tag}b3", n=8)
    rig.wait_worker(3)
    ctl_sock = rig.run / "lcore-3.sock"
    deadline = time.monotonic() + 10
    while True:
        try:
            rig.worker(3).info()
            break
        except Exception:
            assert time.monotonic() < deadline and ctl_sock
            time.sleep(0.05)
    subprocess.run(fix_cmd(rig, "reconcile"), capture_output=True)   # pools and services as usual


def _w(i, op, **kw):
    return lambda rig: rig.worker(i).call(op, **kw)


WEB = dict(vip="10.0.0.100", vport=80, proto="tcp")
# (finding, how to create it, the fix's command as doctor prints it)
ROWS = [
    ("not-initialised", _restart_switch, ["reconcile"]),
    ("writer-killed", _kill_writer, ["reconcile"]),
    ("switch-state", _del_one_entry, ["reconcile"]),
    ("switch-layout-drift", _miss_drop, ["reconcile"]),
    ("switch-other-layout", _other_lab, ["reconcile", "--force"]),
    ("miss-drops-new-conns", _miss_drop, ["reconcile"]),
    ("miss-pins-new-conns", _miss_lcore, ["reconcile"]),
    ("laddr-missing-on-switch", lambda r: subprocess.run(fix_cmd(r, "laddr", "del", "10.0.0.201"), check=True),
     ["reconcile"]),
    ("laddr-not-in-lab", lambda r: subprocess.run(fix_cmd(r, "laddr", "add", "10.0.0.210"), check=True),
     ["laddr", "del", "10.0.0.210"]),
    ("mask-mismatch", lambda r: subprocess.run(fix_cmd(r, "filter", "add", "--addr", "10.0.0.200", "--port", "1",
                                                       "--port-mask", "7", "--proto", "tcp", "--lcore", "1",
                                                       "--priority", "100"), check=True),
     ["filter", "del", "--addr", "10.0.0.200", "--port", "1", "--port-mask", "0x7", "--proto", "tcp",
      "--priority", "100"]),
    ("equal-priority-overlap", _overlap,
     ["filter", "del", "--addr", "10.0.0.200", "--port", "1", "--port-mask", "0x1", "--proto", "tcp",
      "--priority", "10"]),
    ("pool-steered-elsewhere", lambda r: subprocess.run(fix_cmd(r, "filter", "add", "--addr", "10.0.0.201",
                                                                "--port", "2", "--port-mask", "3", "--proto", "udp",
                                                                "--lcore", "0", "--priority", "50"), check=True),
     ["filter", "del", "--addr", "10.0.0.201", "--port", "2", "--port-mask", "0x3", "--proto", "udp",
      "--priority", "50"]),
    ("worker-unreachable", lambda r: r.kill_worker(2), ["worker", "restart", "2"]),
    ("reta-excludes-lcore", lambda r: subprocess.run(fix_cmd(r, "rss", "exclude", "1"), check=True),
     ["rss", "include", "1"]),
    ("worker-config", _wrong_worker, ["worker", "restart", "3", "--replace"]),
    ("pool-slot-mismatch", lambda r: (_w(1, "pool_del", laddr="10.0.0.201", force=True)(r),
                                      _w(1, "pool_add", laddr="10.0.0.201", slot=5)(r)), ["reconcile"]),
    ("pool-without-filters", _w(3, "pool_add", laddr="10.0.0.222", slot=7),
     ["laddr", "del", "10.0.0.222", "--force"]),
    ("filters-without-pool", _w(0, "pool_del", laddr="10.0.0.200", force=True), ["reconcile"]),
    ("service-laddr-stale", _w(1, "service_laddr_add", laddr="10.0.0.233", **WEB), ["reconcile"]),
    ("lcore-without-ports", lambda r: (_w(2, "pool_del", laddr="10.0.0.200", force=True)(r),
                                       _w(2, "pool_del", laddr="10.0.0.201", force=True)(r)), ["reconcile"]),
    ("service-not-in-lab", _w(0, "service_add", vip="10.0.0.100", vport=8080, proto="tcp", sched="rr",
                              servers=[{"addr": "10.0.2.1", "port": 80, "weight": 1}], laddrs=["10.0.0.200"]),
     ["reconcile"]),
    ("service-differs", lambda r: (_w(3, "service_del", **WEB)(r),
                                   _w(3, "service_add", sched="wrr", laddrs=["10.0.0.200"], **WEB,
                                      servers=[{"addr": "10.0.2.1", "port": 8080, "weight": 1}])(r)),
     ["reconcile"]),
    ("service-laddr-missing", _w(2, "service_laddr_del", laddr="10.0.0.201", **WEB), ["reconcile"]),
    ("service-missing", _w(1, "service_del", **WEB), ["reconcile"]),
    ("neigh-missing", _w(0, "neigh_del", addr="10.0.2.1"), ["reconcile"]),
    ("service-without-laddr", _del_all_laddrs, ["reconcile"]),
]


SWITCH_ROWS = ("not-initialised", "switch-state", "switch-layout-drift", "switch-other-layout",
               "miss-drops-new-conns", "miss-pins-new-conns", "mask-mismatch", "equal-priority-overlap",
               "pool-steered-elsewhere", "worker-unreachable")


def test_rig_starts_clean(rig, ctl):
    code, res, err = ctl("init")          # the fixture initialised it: a second init changes nothing
    assert code == 4 and "already initialised" in err, (code, err)
    code, res, err = ctl("reconcile")
    assert code == 0, err
    code, found = doctor_codes(ctl)
    assert code == 0 and not [f for f in found.values() if f["severity"] != "info"], found


@pytest.mark.parametrize("finding,make,fix", ROWS, ids=[r[0] for r in ROWS])
def test_doctor_row(rig, ctl, finding, make, fix):
    _row(rig, ctl, finding, make, fix)


@pytest.mark.parametrize("finding,make,fix", [r for r in ROWS if r[0] in SWITCH_ROWS],
                         ids=[r[0] for r in ROWS if r[0] in SWITCH_ROWS])
def test_doctor_row_bmv2(rig_bmv2, capsys, finding, make, fix):
    """The rows whose state lives on the switch, on BMv2."""
    ctl = _ctl(rig_bmv2, capsys)
    if "not-initialised" in doctor_codes(ctl)[1]:       # the first row: bring the rig up
        assert ctl("reconcile")[0] == 0
    _row(rig_bmv2, ctl, finding, make, fix)


def _row(rig, ctl, finding, make, fix):
    make(rig)
    code, found = doctor_codes(ctl)
    assert finding in found, sorted(found)
    if found[finding]["severity"] == "error":
        assert code == 7
    printed = found[finding]["fix"]
    assert " ".join(fix) in printed, printed           # the fix we apply is the one printed
    p = subprocess.run(fix_cmd(rig, *fix), capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stderr
    code, found = doctor_codes(ctl)
    assert code == 0 and finding not in found, sorted(found)
    assert not [f for f in found.values() if f["severity"] != "info"], found


def _pools(rig) -> list[set[str]]:
    from controller.workers import pool_laddrs
    return [pool_laddrs(rig.worker(i).pools()) for i in range(N)]


def _svc_laddrs(rig) -> list[list[str]]:
    return [sorted(a for s in rig.worker(i).services()["services"] for a in s["laddrs"]) for i in range(N)]


def _clean(ctl) -> None:
    code, found = doctor_codes(ctl)
    assert code == 0 and not [f for f in found.values() if f["severity"] != "info"], found


def test_stray_pool_is_adopted_or_removed(rig, ctl):
    """Kind 2a: a pool left on one lcore without filters: laddr add adopts it, laddr del --force
    removes a leftover the switch does not have."""
    # the slot add gives it: the next IPv4 one (slots count per family)
    rig.worker(3).call("pool_add", laddr="10.0.0.240", slot=sum(":" not in a for a in BASE))
    code, res, err = ctl("laddr", "add", "10.0.0.240")
    assert code == 0, err
    assert all("10.0.0.240" in p for p in _pools(rig))
    assert "10.0.0.240" in switch_state(rig).laddrs
    assert ctl("laddr", "del", "10.0.0.240")[0] == 0
    rig.worker(1).call("pool_add", laddr="10.0.0.241", slot=0)
    code, res, err = ctl("laddr", "del", "10.0.0.241")
    assert code == 0, err
    assert not any("10.0.0.241" in p for p in _pools(rig))
    code, res, err = ctl("laddr", "del", "10.0.0.241")
    assert code == 4 and "not present" in err
    _clean(ctl)


def test_laddr_del_without_drain_leaves_no_stale_service_address(rig, ctl):
    """Kind 2c: add/del cycles with new addresses; the services' lists do not grow."""
    before = _svc_laddrs(rig)
    for k in range(3):
        addr = f"10.0.0.{150 + k}"
        assert ctl("laddr", "add", addr)[0] == 0
        assert all(addr in s for s in _svc_laddrs(rig))
        code, res, err = ctl("laddr", "del", addr)
        assert code == 0 and res["detached"] == 2 * N, (res, err)
    assert _svc_laddrs(rig) == before
    # the last local address of a service cannot be deleted: nothing changes
    rig.worker(0).call("service_laddr_del", laddr="10.0.0.201", **WEB)
    code, res, err = ctl("laddr", "del", "10.0.0.200")
    assert code == 4 and "last local address" in err
    assert "10.0.0.200" in switch_state(rig).laddrs and all("10.0.0.200" in p for p in _pools(rig))
    assert ctl("reconcile")[0] == 0
    _clean(ctl)


def test_equal_priority_overlap_refused_and_verdict_is_order_free(rig, ctl):
    """Kind 5: filter add refuses an overlap at the generated priority (exit 4, nothing
    written); at another priority it is accepted."""
    before = switch_state(rig).entries
    code, res, err = ctl("filter", "add", "--addr", "10.0.0.200", "--port", "1025", "--port-mask", "0xffff",
                         "--proto", "tcp", "--lcore", "3", "--priority", "10")
    assert code == 4 and "same priority 10" in err, err
    assert switch_state(rig).entries == before
    code, res, err = ctl("filter", "add", "--addr", "10.0.0.200", "--port", "1025", "--port-mask", "0xffff",
                         "--proto", "tcp", "--lcore", "3", "--priority", "5")
    assert code == 0, err          # below the generated filters: it never wins, doctor is clean
    _clean(ctl)
    assert ctl("filter", "del", "--addr", "10.0.0.200", "--port", "1025", "--port-mask", "0xffff",
               "--proto", "tcp", "--priority", "5")[0] == 0


def test_dead_worker_reported_and_restarted(rig, ctl):
    """Kind 3: stats and doctor show the live lcores and the dead one; worker restart brings it
    back with its pools and services."""
    want_pools, want_svcs = _pools(rig)[2], _svc_laddrs(rig)[2]
    rig.kill_worker(2)
    code, res, err = ctl("stats")
    assert code == 6
    assert [r["lcore"] for r in res["lcores"]] == [0, 1, 3] and [d["lcore"] for d in res["dead"]] == [2]
    code, res, err = ctl("doctor")
    assert code == 7 and res["lcores_alive"] == [0, 1, 3] and res["lcores_dead"] == [2]
    code, res, err = ctl("laddr", "add", "10.0.0.160")
    assert code == 6 and "lcore 2" in err and "10.0.0.160" not in switch_state(rig).laddrs
    p = subprocess.run(fix_cmd(rig, "--json", "worker", "restart", "2"), capture_output=True, text=True,
                       cwd=REPO, timeout=60)
    assert p.returncode == 0, p.stderr
    assert _pools(rig)[2] == want_pools and _svc_laddrs(rig)[2] == want_svcs
    p = subprocess.run(fix_cmd(rig, "worker", "restart", "2"), capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 4 and "is running" in p.stderr
    code, res, err = ctl("stats")
    assert code == 0 and len(res["lcores"]) == N
    _clean(ctl)


def test_switch_kill9_then_reconcile_repairs_switch_and_workers(rig, ctl):
    """Kind 2b: an address added at run time; the switch is killed and restarted; reconcile
    makes the switch hold the lab's state and the workers drop the address too."""
    assert ctl("laddr", "add", "10.0.0.170")[0] == 0
    _restart_switch(rig)
    code, res, err = ctl("reconcile")
    assert code == 0, err
    assert set(switch_state(rig).laddrs) == BASE
    assert all(p == BASE for p in _pools(rig))
    assert all("10.0.0.170" not in s for s in _svc_laddrs(rig))
    _clean(ctl)


def test_writer_interrupted_mid_write_is_named_and_repaired(rig, ctl, tmp_path):
    """Ctrl-C (SIGINT) of a writer mid-write: it says so in one line (exit 130) and leaves its
    name in the writer lock, so doctor reports writer-killed, as for kill -9; reconcile repairs
    it and clears the mark (break-it 3: it looked like a writer that had completed)."""
    addrs = [f"10.0.9.{i}" for i in range(1, 201)]
    f = tmp_path / "addrs.txt"
    f.write_text("\n".join(addrs) + "\n")
    p = subprocess.Popen(fix_cmd(rig, "--batch-size", "20", "laddr", "add", "--from-file", str(f)),
                         cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(switch_state(rig).laddrs) < 3 + len(BASE):
        assert p.poll() is None and time.monotonic() < deadline, "the writer ended before it was interrupted"
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and err.count("\n") == 1, (p.returncode, err)
    assert err.startswith("fdirctl: interrupted while writing: ") and "fdirctl reconcile" in err, err
    code, found = doctor_codes(ctl)
    assert "laddr add" in found["writer-killed"]["message"], found
    code, res, err = ctl("--lock-wait", "5", "reconcile")
    assert code == 0, err
    assert set(switch_state(rig).laddrs) == BASE
    _clean(ctl)


def test_ipvsadm_interrupted_is_one_line(rig, ctl):
    """Ctrl-C of an ipvsadm that waits (here for the writer lock another writer holds): one
    line, exit 130, no traceback, nothing marked: it wrote nothing (break-it 3: a traceback)."""
    from controller.writelock import WriteLock
    held = WriteLock(rig.sw.addr, 1, 0, "fdirctl laddr add (test)").acquire()
    try:
        p = subprocess.Popen([sys.executable, "-m", "controller.ipvsadm", "--lab", str(rig.lab), "-A", "-t",
                              "10.0.0.100:8082", "-s", "rr"],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)     # started, and waiting for the lock: it cannot finish meanwhile
        assert p.poll() is None
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        held.release()
    assert (p.returncode, err) == (130, "ipvsadm: interrupted\n"), (p.returncode, out, err)
    assert "writer-killed" not in doctor_codes(ctl)[1]


def test_ipvsadm_writes_wait_for_an_fdirctl_writer(rig, ctl):
    """ipvsadm/dpip writes take the switch's writer lock before their first check, as fdirctl's
    writers do (break-it 3: `fdirctl laddr del` and `ipvsadm -Q` at once left a service with no
    local address); their reads do not wait."""
    from controller.writelock import WriteLock
    held = WriteLock(rig.sw.addr, 1, 0, "fdirctl laddr del (test)").acquire()
    try:
        w = subprocess.Popen([sys.executable, "-m", "controller.ipvsadm", "--lab", str(rig.lab), "-A", "-t",
                              "10.0.0.100:8081", "-s", "rr"], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        read = _tool(rig, "controller.ipvsadm", "-ln")
        assert read.returncode == 0 and "10.0.0.100:80" in read.stdout, read.stderr
        time.sleep(1.0)
        assert w.poll() is None, w.communicate()        # waiting for the writer lock
    finally:
        held.release()
    out, err = w.communicate(timeout=60)
    assert w.returncode == 0, err
    assert _tool(rig, "controller.ipvsadm", "-D", "-t", "10.0.0.100:8081").returncode == 0


def test_writer_killed_mid_write_is_found_and_repaired(rig, ctl, tmp_path):
    """kill -9 of fdirctl while it writes: the next writer is not blocked (the kernel drops the
    lock), doctor names the half-installed addresses, reconcile removes them everywhere."""
    addrs = [f"10.0.9.{i}" for i in range(1, 201)]
    f = tmp_path / "addrs.txt"
    f.write_text("\n".join(addrs) + "\n")
    p = subprocess.Popen(fix_cmd(rig, "--batch-size", "20", "laddr", "add", "--from-file", str(f)),
                         cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(switch_state(rig).laddrs) < 3 + len(BASE):
        assert p.poll() is None and time.monotonic() < deadline, "the writer ended before it was killed"
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    half = set(switch_state(rig).laddrs) - BASE
    assert half and half < set(addrs)
    code, found = doctor_codes(ctl)
    assert code == 7 and "laddr-not-in-lab" in found
    assert "laddr add" in found["writer-killed"]["message"], found["writer-killed"]
    code, res, err = ctl("--lock-wait", "5", "reconcile")
    assert code == 0, err
    assert set(switch_state(rig).laddrs) == BASE
    _clean(ctl)


BAD_LB_ADDRS = [("10.0.2.1", "already the address of lab host rs1"),
                ("255.255.255.255", "the limited broadcast address"),
                ("10.0.255.255", "the broadcast address of the lab subnet 10.0.0.0/16"),
                ("fe80::1", "a link-local address"),
                ("::ffff:10.0.0.5", "an IPv4-mapped IPv6 address"),
                ("10.1.0.1", "outside the lab subnet 10.0.0.0/16"),
                ("fd00:fe::1", "outside the lab subnet fd00:fd::/64")]


def _tool(rig, tool: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", tool, "--lab", str(rig.lab), *argv], capture_output=True,
                          text=True, cwd=REPO, timeout=120)


@pytest.mark.parametrize("addr,why", BAD_LB_ADDRS, ids=[a for a, _ in BAD_LB_ADDRS])
def test_lb_address_rule_on_every_runtime_path(rig, ctl, addr, why):
    """The lab file's rule for LB addresses (fdirlab.lb_addr) holds at every run-time path that
    adds a local address or a VIP: one line naming the address and the reason, exit 2, nothing
    changed on the switch or the workers (finding 4)."""
    def now():
        return sorted(repr(e) for e in switch_state(rig).entries), _pools(rig), _svc_laddrs(rig)
    before = now()
    fam_vip = "fd00:fd::100" if ":" in addr else "10.0.0.100"
    runs = [subprocess.run(fix_cmd(rig, "laddr", "add", addr), capture_output=True, text=True, cwd=REPO),
            _tool(rig, "controller.ipvsadm", "--add-laddr", "-z", addr, "-t",
                  f"[{fam_vip}]:80" if ":" in fam_vip else f"{fam_vip}:80", "-F", "dpdk0"),
            _tool(rig, "controller.dpip", "addr", "add", addr, "dev", "dpdk0", "sapool"),
            _tool(rig, "controller.dpip", "addr", "add", addr, "dev", "dpdk0"),
            _tool(rig, "controller.ipvsadm", "-A", "-t", f"[{addr}]:8080" if ":" in addr else f"{addr}:8080")]
    for p in runs:
        assert p.returncode == 2, (p.args, p.returncode, p.stderr)
        named = addr in p.stderr or str(ipaddress.ip_address(addr)) in p.stderr
        assert p.stderr.count("\n") == 1 and named and why in p.stderr, p.stderr
    assert now() == before


@pytest.mark.parametrize("rs,why", [("8.8.8.8", "outside the lab subnet 10.0.0.0/16"),
                                     ("10.0.0.200", "an address of the load balancer itself"),
                                     ("127.0.0.1", "a loopback address")])
def test_real_server_rule_at_run_time(rig, ctl, rs, why):
    """`ipvsadm -a` holds the lab file's rule for real servers (fdirlab.real_server): one line
    naming the server and why, exit 2, no worker changed."""
    def dests():
        return [sorted((d["addr"], d["port"]) for s in rig.worker(i).services()["services"] for d in s["servers"])
                for i in range(N)]
    before = dests()
    p = _tool(rig, "controller.ipvsadm", "-a", "-t", "10.0.0.100:80", "-r", f"{rs}:80", "-b")
    assert p.returncode == 2 and p.stderr.count("\n") == 1, (p.returncode, p.stderr)
    assert p.stderr.startswith(f"ipvsadm: -r {rs}:80: {why}"), p.stderr
    assert dests() == before


def test_top_json_exits_like_stats_when_an_lcore_is_down(rig, ctl):
    """`top --json` and `stats` agree: exit 6 and the dead lcore named while a worker is down,
    0 once it is back (finding 10)."""
    rig.kill_worker(1)
    try:
        code, res, err = ctl("stats")
        assert code == 6 and [d["lcore"] for d in res["dead"]] == [1], (code, err)
        code, res, err = ctl("top", "--count", "2", "--interval", "0.1")
        assert code == 6 and res["down"] == [1] and [r["lcore"] for r in res["lcores"] if r["down"]] == [1], res
    finally:
        p = subprocess.run(fix_cmd(rig, "worker", "restart", "1"), capture_output=True, text=True, cwd=REPO)
        assert p.returncode == 0, p.stderr
    assert ctl("stats")[0] == 0
    code, res, err = ctl("top", "--count", "2", "--interval", "0.1")
    assert code == 0 and res["down"] == [], res


def _sched_weights(rig) -> list[tuple[str, list[int]]]:
    """Per lcore: web's scheduler and its real servers' weights."""
    out = []
    for i in range(N):
        s = next(x for x in rig.worker(i).services()["services"] if (x["vip"], x["vport"]) == ("10.0.0.100", 80)
                 and x["proto"] == "tcp")
        out.append((s["sched"], [int(d.get("weight", 1)) for d in s.get("servers", s.get("dests", []))]))
    return out


def test_ipvsadm_defaults_are_dpvs(rig, ctl):
    """Finding 6: DPVS's ipvsadm fills what is not given (ipvsadm.c process_options): -e without
    -w sets weight 1 (was: a silent no-op), -E without -s sets wlc (was: refused); -a without
    -b is DR in DPVS, which the lab does not model: refused, nothing changed."""
    rs = "10.0.2.2:8080"
    p = _tool(rig, "controller.ipvsadm", "-e", "-t", "10.0.0.100:80", "-r", rs, "-b", "-w", "0")
    assert p.returncode == 0, p.stderr
    assert "-> 10.0.2.2:8080                FullNat 0 " in _tool(rig, "controller.ipvsadm", "-ln").stdout
    p = _tool(rig, "controller.ipvsadm", "-e", "-t", "10.0.0.100:80", "-r", rs, "-b")   # the runbook's restore
    assert p.returncode == 0 and p.stdout == p.stderr == "", p.stderr
    listing = _tool(rig, "controller.ipvsadm", "-ln").stdout
    assert "-> 10.0.2.2:8080                FullNat 1 " in listing, listing
    p = _tool(rig, "controller.ipvsadm", "-E", "-t", "10.0.0.100:80")
    assert p.returncode == 0, p.stderr
    assert "TCP  10.0.0.100:80 wlc" in _tool(rig, "controller.ipvsadm", "-ln").stdout
    assert all(sched == "wlc" for sched, _ in _sched_weights(rig))
    before = _sched_weights(rig)
    p = _tool(rig, "controller.ipvsadm", "-a", "-t", "10.0.0.100:80", "-r", "10.0.2.3:8080")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "direct routing (-g)" in p.stderr, p.stderr
    assert _sched_weights(rig) == before
    assert ctl("reconcile")[0] == 0            # back to the lab file's rr
    _clean(ctl)


def test_ipvsadm_list_and_dpip_show_with_a_dead_lcore(rig, ctl):
    """Finding 17: a read lists what the live lcores hold (summed over them), names the dead
    lcore on stderr in one line with the fix, and exits 6 as `fdirctl stats` does."""
    full = _tool(rig, "controller.ipvsadm", "-ln")
    assert full.returncode == 0, full.stderr
    rig.kill_worker(2)
    try:
        p = _tool(rig, "controller.ipvsadm", "-ln")
        assert p.returncode == 6 and p.stdout == full.stdout, (p.stdout, p.stderr)
        assert p.stderr.count("\n") == 1 and "lcores [2] do not answer" in p.stderr, p.stderr
        assert f"fdirctl --lab {rig.lab} worker restart N" in p.stderr, p.stderr
        p = _tool(rig, "controller.ipvsadm", "-ln", "--stats")
        assert p.returncode == 6 and "TCP  10.0.0.100:80" in p.stdout and "lcores [2]" in p.stderr
        p = _tool(rig, "controller.dpip", "-s", "addr", "show")
        assert p.returncode == 6 and "inet 10.0.0.200/32 scope global dpdk0" in p.stdout, p.stderr
        assert p.stderr.count("\n") == 1 and "lcores [2]" in p.stderr, p.stderr
        assert ctl("stats")[0] == 6
        code, res, err = ctl("show", "pools")          # the same kind in fdirctl: was the first error only
        assert code == 6 and [d["lcore"] for d in res["dead"]] == [2], (code, err)
        assert sorted({r["lcore"] for r in res["pools"]}) == [0, 1, 3], res
    finally:
        r = subprocess.run(fix_cmd(rig, "worker", "restart", "2"), capture_output=True, text=True, cwd=REPO)
        assert r.returncode == 0, r.stderr
    assert _tool(rig, "controller.ipvsadm", "-ln").returncode == 0
    _clean(ctl)


def test_runtime_laddr_belongs_to_its_service_and_doctor_fix_is_what_reconcile_does(rig, ctl):
    """Finding 5: an address attached at run time to one service (DPVS ipvsadm --add-laddr) is
    one laddr-not-in-lab finding (its fix and message say what reconcile does: remove it), not a
    service-laddr-missing per lcore and service; a restarted worker binds it where its peers do;
    the doctor's fix (reconcile) then removes it everywhere and doctor is clean. A lab address a
    lab service lacks on several lcores is one service-laddr-missing finding, fixed by reconcile."""
    addr = "10.0.0.211"
    p = _tool(rig, "controller.ipvsadm", "--add-laddr", "-z", addr, "-t", "10.0.0.100:80", "-F", "dpdk0")
    assert p.returncode == 0, p.stderr
    code, res, err = ctl("doctor")
    found = [f for f in res["findings"] if f["severity"] != "info"]
    assert [f["code"] for f in found] == ["laddr-not-in-lab"] and addr in found[0]["message"], found
    assert "a reconcile removes it" in found[0]["message"] and "attach" not in found[0]["fix"], found
    rig.kill_worker(3)
    r = subprocess.run(fix_cmd(rig, "worker", "restart", "3"), capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    for i in range(N):       # web binds it on every lcore, dns (the other IPv4 service) on none
        svcs = {(s["vip"], s["vport"], s["proto"]): s["laddrs"] for s in rig.worker(i).services()["services"]}
        assert addr in svcs[("10.0.0.100", 80, "tcp")] and addr not in svcs[("10.0.0.100", 5353, "udp")], (i, svcs)
    assert [f["code"] for f in ctl("doctor")[1]["findings"] if f["severity"] != "info"] == ["laddr-not-in-lab"]
    assert ctl("reconcile")[0] == 0
    assert addr not in switch_state(rig).laddrs and all(addr not in p for p in _pools(rig))
    assert all(addr not in s for s in _svc_laddrs(rig))
    _clean(ctl)
    for i in (1, 2):
        rig.worker(i).call("service_laddr_del", laddr="10.0.0.201", **WEB)
    code, res, err = ctl("doctor")
    found = [f for f in res["findings"] if f["severity"] != "info"]
    assert [f["code"] for f in found] == ["service-laddr-missing"], found
    assert "10.0.0.201" in found[0]["message"] and "[1, 2]" in found[0]["message"], found
    assert ctl("reconcile")[0] == 0
    _clean(ctl)


def test_dpip_shows_what_its_docstring_says(rig, ctl):
    """Finding 16: dpip's docstring said LEN "is accepted and shown"; the switch keeps only the
    address, so show prints /32 (/128), and the docstring now says so."""
    from controller import dpip
    assert _tool(rig, "controller.dpip", "addr", "add", "10.0.0.212/24", "dev", "dpdk0", "sapool").returncode == 0
    try:
        out = _tool(rig, "controller.dpip", "addr", "show").stdout
        assert "inet 10.0.0.212/32 scope global dpdk0" in out, out
        assert "accepted but not kept" in dpip.__doc__ and "/32" in dpip.__doc__
    finally:
        assert _tool(rig, "controller.dpip", "addr", "del", "10.0.0.212/24", "dev", "dpdk0").returncode == 0
    _clean(ctl)
