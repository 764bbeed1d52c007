"""Starting the lab's switch says why it failed: no binary, a port in use, a missing
interface, or the switch's own last words when it exits during start-up."""
import socket
import sys

import pytest

from topo import switch as sw
from topo.errors import SwitchStartError


def test_bmv2_missing_is_named(monkeypatch):
    monkeypatch.setattr(sw.shutil, "which", lambda name: None)
    with pytest.raises(SwitchStartError, match="simple_switch_grpc on PATH"):
        sw.resolve_target("bmv2")
    assert sw.resolve_target("auto") == "softswitch"
    with pytest.raises(SwitchStartError, match="'p4'"):
        sw.resolve_target("p4")


def test_port_in_use_is_named(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        addr = f"127.0.0.1:{s.getsockname()[1]}"
        proc = sw.SwitchProcess("softswitch", {1: "lo"}, grpc_addr=addr, log_path=tmp_path / "s.log")
        with pytest.raises(SwitchStartError, match=f"cannot listen on {addr}: the port is in use"):
            proc.start()


def test_missing_interface_is_named(tmp_path):
    proc = sw.SwitchProcess("softswitch", {1: "nosuchif0"}, grpc_addr="127.0.0.1:0", log_path=tmp_path / "s.log")
    with pytest.raises(SwitchStartError, match="interface nosuchif0 does not exist"):
        proc.start()


def test_early_exit_shows_the_log_tail(tmp_path, monkeypatch):
    # A switch that dies during start-up: the error carries its last log lines.
    monkeypatch.setattr(sw.SwitchProcess, "command", lambda self: [
        sys.executable, "-c", "import sys; print('loading program'); print('fatal: bad things'); sys.exit(3)"])
    proc = sw.SwitchProcess("softswitch", {1: "lo"}, grpc_addr="127.0.0.1:0", log_path=tmp_path / "s.log")
    with pytest.raises(SwitchStartError) as e:
        proc.start(timeout=10)
    assert "exited with code 3" in str(e.value) and "fatal: bad things" in str(e.value)


def test_make_run_leaves_the_switch_to_the_lab_file_unless_target_is_given():
    import subprocess
    from pathlib import Path

    from fdirlab.lab_config import parse_lab

    repo = Path(__file__).resolve().parent.parent
    dry = subprocess.run(["make", "-n", "run", "LAB=my.toml"], cwd=repo, capture_output=True,
                         text=True, check=True).stdout.replace("\\\n", " ")
    line = next(ln for ln in dry.splitlines() if "-m topo run" in ln)
    assert "--target" not in line and "--lab my.toml" in line
    dry = subprocess.run(["make", "-n", "run", "TARGET=bmv2"], cwd=repo, capture_output=True,
                         text=True, check=True).stdout
    assert "--target bmv2" in dry
    assert parse_lab({}, "<t>").switch.target == "softswitch"          # the always-present target
    assert parse_lab({"switch": {"target": "bmv2"}}, "<t>").switch.target == "bmv2"


def test_unresolvable_grpc_host_is_named_not_port_in_use(tmp_path):
    """Review finding 14: a host name that does not resolve was reported as 'port in use'."""
    proc = sw.SwitchProcess("softswitch", {1: "lo"}, grpc_addr="nosuchhost.invalid:9559",
                            log_path=tmp_path / "s.log")
    with pytest.raises(SwitchStartError) as e:
        proc.start()
    msg = str(e.value)
    assert msg.startswith("gRPC address 'nosuchhost.invalid:9559': host 'nosuchhost.invalid' does not resolve ("), msg
    assert "in use" not in msg and "\n" not in msg and proc.proc is None


def test_an_address_not_on_this_machine_is_named_not_port_in_use(tmp_path):
    # 192.0.2.1 (TEST-NET-1, RFC 5737) is on no interface here: bind gives EADDRNOTAVAIL
    with pytest.raises(SwitchStartError, match=r"^gRPC address '192.0.2.1:9559': cannot listen there "
                                               r"\(Cannot assign requested address\)$"):
        sw.check_grpc_addr("192.0.2.1:9559")
    with socket.socket() as s:                   # a taken port is still named as such, with its holder
        s.bind(("127.0.0.1", 0))
        s.listen()
        addr = f"127.0.0.1:{s.getsockname()[1]}"
        with pytest.raises(SwitchStartError, match=f"^cannot listen on {addr}: the port is in use by pid "):
            sw.check_grpc_addr(addr)
    sw.check_grpc_addr("localhost:0")            # a name that resolves, a free port: fine
