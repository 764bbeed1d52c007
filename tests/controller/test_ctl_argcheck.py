"""Every fdirctl command with a bad argument and no switch running: exit 2 with one line
naming the bad value, never "unreachable" (exit 3) -- arguments are checked before any
connection (issue 11). The same commands with good arguments reach the connect step."""
import subprocess
import sys
from pathlib import Path

import pytest

from controller import cli
from controller.errors import EXIT_UNREACHABLE, EXIT_USAGE
from controller.p4rt_client import P4RTClient

REPO = str(Path(__file__).parents[2])
NOSWITCH = ["--grpc-addr", "127.0.0.1:1", "--timeout", "0.5"]
ADDR = ["--addr", "10.0.0.1", "--port", "80", "--proto", "tcp"]

# (argv after the common options, the word the error must contain)
BAD = [
    (["init", "--lcores", "0"], "lcore count 0"),
    (["init", "--lcore-ports", "1,2,x"], "'x'"),
    (["init", "--lcore-ports", "1,600"], "600"),
    (["init", "--wire-ports", "5-3"], "5-3"),
    (["init", "--lcore-ports", "1,2", "--lcores", "3"], "--lcores 3"),
    (["init", "--miss", "sometimes"], "sometimes"),
    (["init", "--lb-mac", "02:00:00:00:00:zz"], "02:00:00:00:00:zz"),
    (["init", "--lb-mac", "01:00:5e:00:00:01"], "01:00:5e:00:00:01"),
    (["laddr", "add", "300.1.2.3"], "300.1.2.3"),
    (["laddr", "add", "10.0.0.7", "fe80::1::2"], "fe80::1::2"),
    (["laddr", "add", "239.1.1.1"], "239.1.1.1"),
    (["laddr", "add", "10.0.0.7", "10.0.0.7"], "given twice"),
    (["laddr", "add", "10.0.0.7", "--slot", "1", "--slot", "2"], "2 --slot"),
    (["laddr", "add", "10.0.0.7", "--slot", "-1"], "--slot -1"),
    (["laddr", "add", "--from-file", "/nonexistent/laddrs"], "/nonexistent/laddrs"),
    (["laddr", "add"], "no local address"),
    (["laddr", "del", "10.0.0.999"], "10.0.0.999"),
    (["laddr", "del", "10.0.0.7", "--drain", "-5"], "--drain -5"),
    (["laddr", "del", "10.0.0.7", "--drain", "5"], "needs the workers"),
    (["filter", "add", *ADDR[:1], "10.0.0.1/33", *ADDR[2:], "--lcore", "0"], "10.0.0.1/33"),
    (["filter", "add", "--addr", "10.1.2", "--port", "80", "--proto", "tcp", "--lcore", "0"], "10.1.2"),
    (["filter", "add", "--addr", "10.0.0.1", "--port", "70000", "--proto", "tcp", "--lcore", "0"], "70000"),
    (["filter", "add", *ADDR, "--port-mask", "0x10000", "--lcore", "0"], "0x10000"),
    (["filter", "add", "--addr", "10.0.0.1", "--port", "5", "--port-mask", "3", "--proto", "tcp",
      "--lcore", "0"], "outside mask"),
    (["filter", "add", *ADDR, "--priority", "0", "--lcore", "0"], "priority 0"),
    (["filter", "add", *ADDR, "--to-port", "511"], "port 511"),
    (["filter", "add", *ADDR, "--lcore", "-1"], "--lcore -1"),
    (["filter", "add", "--addr", "2001:db8::1", "--port", "1", "--proto", "tcp", "--table", "fdir_v4",
      "--lcore", "0"], "2001:db8::1"),
    (["filter", "del", "--addr", "10.0.0.1/x", "--port", "1", "--proto", "udp"], "10.0.0.1/x"),
    (["show", "fdir", "--laddr", "10.0.0.1000"], "10.0.0.1000"),
    (["show", "pools", "--no-workers"], "needs the workers"),
    (["stats"], "needs the workers"),
    (["reconcile"], "needs --lab"),
    (["schemes", "--port-range", "9-3"], "9-3"),
    (["schemes", "--laddrs", "-1"], "--laddrs -1"),
    # the common options, on every command that takes nothing else
    (["status", "--timeout", "-1"], "--timeout -1"),
    (["doctor", "--device-id", "-3"], "--device-id -3"),
    (["laddr", "list", "--batch-size", "0"], "--batch-size 0"),
    (["filter", "list", "--p4info", "/nonexistent/p4info.txtpb"], "/nonexistent/p4info.txtpb"),
    (["show", "rss", "--bmv2-json", "/nonexistent/fdir.json"], "/nonexistent/fdir.json"),
    (["show", "counters", "--lab", "/nonexistent/lab.toml"], "/nonexistent/lab.toml"),
    (["show", "fdir", "--run-dir", "/nonexistent/run"], "/nonexistent/run"),
    (["status", "--grpc-addr", "localhost"], "'localhost'"),
    (["status", "--grpc-addr", "127.0.0.1:70000"], "127.0.0.1:70000"),
    (["export", "--format", "ethtool", "--dev", "eth 0"], "'eth 0'"),
    (["export", "--format", "rte-flow", "--port-id", "-1"], "--port-id -1"),
    (["dpvs-conf", "/nonexistent/dpvs.conf"], "/nonexistent/dpvs.conf"),
    (["top", "--interval", "0"], "--interval 0"),
    # finding 10: inf / 1e10 were an internal error (time.sleep overflow) after connecting
    (["top", "--interval", "inf", "--run-dir", "/tmp"], "--interval inf: must be a finite number"),
    (["top", "--interval", "1e10", "--run-dir", "/tmp"], "--interval 1e+10"),
    (["top", "--interval", "nan", "--run-dir", "/tmp"], "--interval nan"),
    (["top", "--count", "10000001", "--run-dir", "/tmp"], "--count 10000001"),
    (["status", "--timeout", "inf"], "--timeout inf"),
    (["status", "--timeout", "1e10"], "--timeout 1e+10"),
    (["laddr", "list", "--batch-size", "100000000"], "--batch-size 100000000"),
    (["laddr", "del", "10.0.0.7", "--drain", "inf"], "--drain inf"),
    # finding 16: nan was "no wait", inf waited forever
    (["laddr", "add", "10.0.0.7", "--lock-wait", "nan"], "--lock-wait nan"),
    (["laddr", "add", "10.0.0.7", "--lock-wait", "inf"], "--lock-wait inf"),
    (["laddr", "add", "10.0.0.7", "--lock-wait", "-1"], "--lock-wait -1"),
    # finding 18: the name goes into shell commands; Linux dev_valid_name and IFNAMSIZ
    (["export", "--format", "tc-u32", "--dev", "x; reboot"], "'x; reboot': not a Linux interface name"),
    (["export", "--format", "tc-u32", "--dev", "abcdefghijklmnop"], "'abcdefghijklmnop'"),
    (["export", "--format", "ethtool", "--dev", "eth0:1"], "'eth0:1'"),
    (["export", "--format", "ethtool", "--dev=-x"], "'-x'"),
    (["export", "--format", "ethtool", "--dev", ".."], "'..'"),
    (["export", "--format", "ethtool", "--dev", "$(id)"], "'$(id)'"),
    (["top", "--count", "0", "--run-dir", "/tmp"], "--count 0"),
    (["top"], "needs the workers"),
    (["worker", "restart", "-1"], "lcore -1"),
    (["worker", "restart", "1"], "needs the lab's run directory"),
    (["rss", "exclude", "-2"], "lcore -2"),
    (["rss", "include", "70000"], "lcore 70000"),
]
COMMANDS_COVERED = {tuple(argv[:2]) if argv[0] in ("laddr", "filter", "show", "worker", "rss")
                    else (argv[0],)
                    for argv, _ in BAD}


def test_every_command_is_covered():
    want = {("init",), ("status",), ("reconcile",), ("doctor",), ("stats",), ("schemes",),
            ("export",), ("dpvs-conf",), ("top",), ("worker", "restart")}
    want |= {("rss", s) for s in ("exclude", "include")}
    want |= {("laddr", s) for s in ("add", "del", "list")} | {("filter", s) for s in ("add", "del", "list")}
    want |= {("show", s) for s in ("fdir", "rss", "counters", "pools")}
    assert want == COMMANDS_COVERED and set(cli.COMMANDS) == {c[0] for c in want}


@pytest.fixture
def fdirctl(capsys, monkeypatch):
    def connect_forbidden(self, *args, **kwargs):
        raise AssertionError("fdirctl connected before checking its arguments")
    monkeypatch.setattr(P4RTClient, "connect", connect_forbidden)

    def run(*argv):
        code = cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.err
    return run


@pytest.mark.parametrize("argv,word", BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_bad_argument_exit_2_before_connecting(fdirctl, argv, word):
    code, err = fdirctl(*NOSWITCH, *argv)
    assert (code, err.count("\n")) == (EXIT_USAGE, 1), err
    assert word in err and err.startswith("fdirctl: "), err


@pytest.mark.parametrize("argv", [
    ["laddr", "add", "10.0.0.7", "2001:db8::7"], ["laddr", "del", "10.0.0.7"], ["laddr", "list"],
    ["filter", "add", *ADDR, "--lcore", "1"], ["filter", "del", *ADDR], ["show", "fdir"],
    ["init", "--lcores", "4", "--lb-mac", "02:fd:00:00:00:01"], ["status"], ["doctor"],
])
def test_good_arguments_get_as_far_as_the_switch(argv):
    r = subprocess.run([sys.executable, "-m", "controller", *NOSWITCH, *argv], capture_output=True,
                       text=True, cwd=REPO, timeout=60) if argv[0] == "laddr" and argv[1] == "add" else None
    if r is not None:                       # one real process: the issue's own case, reversed
        assert r.returncode == EXIT_UNREACHABLE, r.stderr
        return
    code = cli.main([*NOSWITCH, *argv])
    assert code == EXIT_UNREACHABLE


def test_the_issue_case_in_a_real_process():
    r = subprocess.run([sys.executable, "-m", "controller", "--grpc-addr", "127.0.0.1:1", "laddr", "add",
                        "300.1.2.3"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "300.1.2.3" in r.stderr, r.stderr


@pytest.mark.parametrize("bad,word", [("/tmp", "'/tmp': is a directory"), ("", "--output '': give a file name"),
                                      ("/nonexistent/dir/lab.toml", "no such directory '/nonexistent/dir'")])
def test_dpvs_conf_output_that_cannot_be_a_file_is_exit_2(fdirctl, bad, word):
    """`dpvs-conf -o DIR` was "internal error: IsADirectoryError" (exit 1)."""
    code, err = fdirctl("dpvs-conf", f"{REPO}/topo/labs/dpvs.conf", "-o", bad)
    assert (code, err.count("\n")) == (EXIT_USAGE, 1), err
    assert word in err and err.startswith("fdirctl: "), err


def test_dpvs_conf_output_write_failure_is_exit_2_one_line(tmp_path):
    """What argcheck cannot see (here: a read-only directory, for any user: /proc) is one line too."""
    r = subprocess.run([sys.executable, "-m", "controller", "dpvs-conf", "topo/labs/dpvs.conf", "-o",
                        "/proc/fdirlab-lab.toml"], capture_output=True, text=True, cwd=REPO, timeout=60)
    errors = [ln for ln in r.stderr.splitlines() if not ln.startswith("warning: ")]   # the unmodelled keys
    assert r.returncode == EXIT_USAGE and len(errors) == 1, r.stderr
    assert errors[0].startswith("fdirctl: --output '/proc/fdirlab-lab.toml': "), r.stderr
    assert "Traceback" not in r.stderr and not r.stdout


def test_from_file_is_read_once_so_stdin_works():
    """`... | fdirctl laddr add --from-file /dev/stdin` (break-it 3): the file was read by the
    argument check and again by the command, which found the pipe empty ("no local address
    given"). Read once, the addresses reach the command: here it fails only at connecting."""
    r = subprocess.run([sys.executable, "-m", "controller", "--grpc-addr", "127.0.0.1:1", "--timeout", "1",
                        "laddr", "add", "--from-file", "/dev/stdin"], input="10.0.60.1\n", capture_output=True,
                       text=True, cwd=REPO, timeout=60)
    assert r.returncode == 3 and "no local address given" not in r.stderr, (r.returncode, r.stderr)


def test_lab_from_the_environment_as_ipvsadm_and_dpip_take_it(tmp_path):
    """At the lab's prompt `ipvsadm -ln; fdirctl doctor` gives --lab to the first word only;
    fdirctl takes $FDIRLAB_LAB as ipvsadm and dpip do (break-it 3: the second command judged
    the switch without the lab and said 0 errors). A given --lab still wins."""
    import os
    env = dict(os.environ, FDIRLAB_LAB=str(tmp_path / "from-env.toml"))
    r = subprocess.run([sys.executable, "-m", "controller", "reconcile"], env=env, capture_output=True, text=True,
                       cwd=REPO, timeout=60)
    assert r.returncode == 2 and "from-env.toml" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = subprocess.run([sys.executable, "-m", "controller", "--lab", str(tmp_path / "given.toml"), "reconcile"],
                       env=env, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 2 and "given.toml" in r.stderr and "from-env" not in r.stderr, r.stderr
