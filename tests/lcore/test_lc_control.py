"""Control protocol (JSON lines over a Unix socket) and the command line: replies,
one-line errors naming the bad value, nothing half-applied; CLI exits 2 without traceback."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from lc_helpers import LB_MAC, frame, make_dp

from lcore.config import WorkerConfig
from lcore.control import ControlHandler, ControlServer
from lcore.errors import ConfigError

ROOT = str(Path(__file__).parents[2])


def handler(scheme="lsb", n=4):
    dp = make_dp(n_lcores=n, lcore_id=1, scheme=scheme, proto="udp")
    cfg = WorkerConfig("veth0", 1, n, scheme, "fdir", LB_MAC, "/tmp/x").validate()
    return ControlHandler(dp, cfg, lambda: 0.0)


def test_info_and_views():
    h = handler()
    info = h.handle({"op": "info"})
    assert info["ok"] and info["lcore"] == 1 and info["n_lcores"] == 4 and info["port_range"] == [1025, 65535]
    assert {"scheme", "mode", "iface", "mac", "pid"} <= set(info)
    h.dp.rx(frame("10.0.1.1", "10.0.0.100", 5000, 80, "udp"), now=0)
    st = h.handle({"op": "stats"})
    assert st["ok"] and st["conns"] == {"total": 1, "by_state": {"UDP": 1}}
    assert st["packets"]["in"] == 1 and st["packets"]["out"] == 1
    assert set(st["handoff"]) == {"same_worker", "do_handoff", "congestion_drop", "handoff_in"}
    (pool,) = h.handle({"op": "pools"})["pools"]
    assert (pool["sa_used"], pool["sa_miss"], pool["buckets"]) == (1, 0, 1) and pool["bytes"] > 0
    conns = h.handle({"op": "conns", "limit": 5})
    assert conns["total"] == 1 and conns["conns"][0]["client"] == "10.0.1.1:5000"
    assert conns["conns"][0]["local"].startswith("10.0.0.200:")
    (svc,) = h.handle({"op": "services"})["services"]
    assert svc["laddr_pools"] == {"10.0.0.200": True} and svc["conns"] == 1
    assert h.handle({"op": "neighs"})["neighs"][0]["type"] == "static"


@pytest.mark.parametrize("req,needle", [
    ({"op": "nope"}, "'nope'"),
    ([1, 2], "JSON object"),
    ({"op": "pool_add"}, "laddr"),
    ({"op": "pool_add", "laddr": "10.0.0.999", "slot": 0}, "10.0.0.999"),
    ({"op": "pool_add", "laddr": "10.0.0.200", "slot": 0}, "exists"),
    ({"op": "pool_add", "laddr": "10.0.0.201", "slot": "x"}, "'x'"),
    ({"op": "pool_add", "laddr": "10.0.0.201", "colour": 1}, "colour"),
    ({"op": "pool_del", "laddr": "10.0.0.201"}, "10.0.0.201"),
    ({"op": "pool_del", "laddr": "10.0.0.200", "force": "yes"}, "'yes'"),
    ({"op": "service_del", "vip": "10.0.0.100", "vport": 81, "proto": "udp"}, "10.0.0.100:81"),
    ({"op": "neigh_add", "addr": "10.0.2.9", "mac": "zz:00:00:00:00:00"}, "zz:00"),
    ({"op": "conns", "limit": -1}, "-1"),
    ({"op": "set_timeouts", "established": 0}, "established"),
    ({"op": "set_timeouts", "bogus": 1}, "bogus"),
])
def test_bad_requests_name_the_value_and_change_nothing(req, needle):
    h = handler()
    before = (h.handle({"op": "pools"}), h.handle({"op": "services"}), h.handle({"op": "neighs"}))
    reply = h.handle(req)
    assert reply["ok"] is False and needle in reply["error"] and "\n" not in reply["error"]
    assert (h.handle({"op": "pools"}), h.handle({"op": "services"}), h.handle({"op": "neighs"})) == before


def test_laddr_scheme_requires_slot_and_set_timeouts_applies():
    h = handler(scheme="laddr", n=2)
    assert "slot" in h.handle({"op": "pool_add", "laddr": "10.0.0.201"})["error"]
    r = h.handle({"op": "pool_add", "laddr": "10.0.0.201", "slot": 1})
    assert r["ok"] and r["pool"]["ports_per_bucket"] == 65535 - 1025 + 1    # slot 1 -> lcore 1
    r = h.handle({"op": "set_timeouts", "udp": 7})
    assert r["timeouts"]["udp"] == 7 and h.dp._udp_to == 7
    assert h.handle({"op": "set_timeouts"})["timeouts"]["established"] == 90


def test_server_over_a_real_unix_socket(tmp_path):
    path = str(tmp_path / "ctl.sock")
    srv = ControlServer(path, handler())
    try:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(path)
        conn = srv.accept()
        c.sendall(b'{"op":"info"}\n{"op":"pools"}\nnot json\n{"op":"po')
        assert srv.on_readable(conn)
        lines = c.recv(65536).decode().splitlines()
        replies = [json.loads(x) for x in lines]
        assert [r["ok"] for r in replies] == [True, True, False]
        assert replies[2]["error"].startswith("bad JSON")
        c.sendall(b'ols"}\n')                       # the rest of a split request
        assert srv.on_readable(conn)
        assert json.loads(c.recv(65536))["ok"]
        c.close()
        assert not srv.on_readable(conn)
        srv.drop(conn)
        with pytest.raises(ConfigError, match=rf"in use by a running worker \(pid {os.getpid()}: "):
            ControlServer(path, handler())
    finally:
        srv.close()
    assert not Path(path).exists()


def test_a_stopping_worker_removes_its_socket_file_before_it_stops_listening(tmp_path):
    """Otherwise a worker started meanwhile on the same --ctl path would find the file stale,
    claim it, bind its own, and then lose it to the old worker's unlink."""
    path = str(tmp_path / "ctl.sock")
    srv = ControlServer(path, handler())
    seen: list[bool] = []

    class Watched(socket.socket):
        def close(self) -> None:
            seen.append(Path(path).exists())
            super().close()

    listener = srv.sock
    srv.sock = Watched(fileno=listener.detach())
    srv.close()
    assert seen == [False]
    new = ControlServer(path, handler())    # the path is free for a successor
    new.close()


@pytest.mark.parametrize("args,needle", [
    ([], "required"),
    (["--lcore-id", "4"], "--lcore-id 4"),
    (["--n-lcores", "0"], "0"),
    (["--scheme", "mod"], "'mod'"),
    (["--mode", "fast"], "'fast'"),
    (["--mac", "01:00:00:00:00:01"], "01:00:00:00:00:01"),
    (["--port-range", "9-3"], "9-3"),
    (["--port-range", "abc"], "abc"),
    (["--pool-hash-size", "0"], "0"),
    (["--mode", "handoff"], "--handoff-dir"),
    (["--handoff-dir", "/tmp", "--mode", "handoff", "--handoff-depth", "0"], "--handoff-depth 0"),
    (["--iface", "nonexistent-if0"], "nonexistent-if0"),
    (["--log", "/nonexistent/dir/lcore.log"], "--log /nonexistent/dir/lcore.log: No such file or directory"),
])
def test_cli_bad_arguments_one_line_exit_2(args, needle, tmp_path):
    base = {"--iface": "lo", "--lcore-id": "1", "--n-lcores": "4", "--scheme": "lsb",
            "--mode": "fdir", "--mac": LB_MAC, "--ctl": str(tmp_path / "c.sock")}
    if args:
        for k, v in zip(args[::2], args[1::2], strict=True):
            base[k] = v
        argv = [x for kv in base.items() for x in kv]
    else:
        argv = []
    p = subprocess.run([sys.executable, "-m", "lcore", *argv], capture_output=True, cwd=ROOT, timeout=30)
    err = p.stderr.decode()
    assert p.returncode == 2 and needle in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_ctl_path_errors_name_the_reason_never_none(tmp_path):
    """OSError('AF_UNIX path too long') has no strerror: the message must still say why."""
    long_path = str(tmp_path / ("x" * 120 + ".sock"))
    with pytest.raises(ConfigError) as ei:
        ControlServer(long_path, handler())
    assert str(ei.value) == f"--ctl {long_path}: AF_UNIX path too long"
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(ConfigError, match=r"--ctl .*afile/c\.sock: Not a directory$"):
        ControlServer(str(afile / "c.sock"), handler())
