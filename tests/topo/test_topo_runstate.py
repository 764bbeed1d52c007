"""Run records and clean-up (topo/runstate.py, topo/cleanup.py): what a run recorded is
removed, nothing else -- not a process with a look-alike command line, not a pid the
kernel has given to someone else, not a run that is still alive (issue 11)."""
import os
import socket
import subprocess
import sys

from fdirlab.run_record import WorkerRecord, write_record
from topo.cleanup import cleanup
from topo.portowner import parse_tcp_table, port_holders
from topo.runstate import Proc, RunRecord, clean_dead_runs, proc_start, records


def sleeper(argv0="sleep"):
    return subprocess.Popen([argv0, "300"], executable="/bin/sleep")


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_record_is_written_at_every_step_and_forgotten_on_close(tmp_path):
    rec = RunRecord.create("lab", "t", tmp_path)
    p = sleeper()
    try:
        rec.add_proc(p.pid, "a sleeper")
        rec.add_link("s1-eth1", "s1-eth1")
        rec.add_dir(tmp_path / "scratch")
        back = RunRecord.load(rec.path)
        assert back.owner.pid == os.getpid() and back.owner.start == proc_start(os.getpid())
        assert [(x.pid, x.what) for x in back.procs] == [(p.pid, "a sleeper")]
        assert back.links == ["s1-eth1"] and back.dirs == [str(tmp_path / "scratch")]
        assert [r.name for r in records(tmp_path)] == ["t"]
        rec.close()
        assert records(tmp_path) == []
    finally:
        p.kill()
        p.wait()


def test_clean_removes_exactly_what_a_dead_run_recorded(tmp_path, capsys):
    ours, foreign_mn, foreign = sleeper(), sleeper("mininet:foo"), sleeper("iperf3")
    live_ours = sleeper()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "f").write_text("x")
    sock = tmp_path / "lcore-0.sock"
    sock.write_text("")
    keep = tmp_path / "logs"
    keep.mkdir()
    try:
        dead = RunRecord("lab", "killed", tmp_path / "lab-1.json", Proc(dead_pid(), 1, "gone"))
        dead.save()
        dead.add_proc(ours.pid, "mininet:h1")
        dead.procs.append(Proc(foreign.pid, 1, "pid reused since"))   # start time differs
        dead.add_dir(scratch)
        dead.add_file(sock)
        alive = RunRecord.create("ptf", "running", tmp_path)
        alive.add_proc(live_ours.pid, "softswitch")
        out = cleanup(state_dir=tmp_path)
        ours.wait(5)                                             # recorded: killed
        assert foreign_mn.poll() is None and foreign.poll() is None   # never recorded / reused
        assert live_ours.poll() is None                           # its run is still alive
        assert not scratch.exists() and not sock.exists() and keep.exists()
        assert out.runs == 1 and out.killed == [f"mininet:h1 (pid {ours.pid})"]
        assert out.live == [f"ptf 'running' (pid {os.getpid()})"]
        assert [r.name for r in records(tmp_path)] == ["running"]
        text = capsys.readouterr().out
        assert text.startswith("clean: 1 killed run(s) cleaned up: 1 process(es) killed")
        assert "left alone: ptf 'running'" in text
        # the same record once its owner is gone
        assert clean_dead_runs(tmp_path, include_live=True).killed == [f"softswitch (pid {live_ours.pid})"]
    finally:
        for p in (ours, foreign_mn, foreign, live_ours):
            p.kill()
            p.wait()


def test_an_unreadable_record_is_reported_and_kept(tmp_path):
    (tmp_path / "lab-9.json").write_text("{not json")
    out = clean_dead_runs(tmp_path)
    assert out.broken == [str(tmp_path / "lab-9.json")] and (tmp_path / "lab-9.json").exists()


def test_port_holder_is_named():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        holders = port_holders(port)
        assert [h.pid for h in holders] == [os.getpid()]
        assert "pytest" in holders[0].cmdline or sys.executable in holders[0].cmdline
    assert port_holders(port) == []


def test_parse_tcp_table():
    lines = [
        "   0: 0100007F:25CC 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1",
        "   1: 0100007F:25CC 0100007F:9999 01 00000000:00000000 00:00000000 00000000     0        0 4343 1",
        "   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11 1",
    ]
    assert parse_tcp_table(lines, 0x25CC) == {4242}          # the listener, not the connection
    assert parse_tcp_table(lines, 80) == {11} and parse_tcp_table(lines, 81) == set()


def test_switch_start_names_the_process_on_its_port(tmp_path):
    from topo.errors import SwitchStartError
    from topo.switch import SwitchProcess
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        sw = SwitchProcess("softswitch", {}, grpc_addr=f"127.0.0.1:{port}", log_path=tmp_path / "l")
        try:
            sw.start()
        except SwitchStartError as e:
            msg = str(e)
        else:
            raise AssertionError("started on a taken port")
    assert f"in use by pid {os.getpid()} (" in msg and "not started by fdirlab" in msg, msg
    assert sw.proc is None


def test_clean_stops_a_worker_that_fdirctl_restarted_by_its_start_record(tmp_path):
    """A worker started by `fdirctl worker restart` is not the lab's child and not in its
    record's procs; its start record in the lab's run directory names it. Clean-up kills it
    while its pid still runs the recorded command, and leaves a pid that runs something else."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    restarted = subprocess.Popen(["/bin/sleep", "301"])
    other = subprocess.Popen(["/bin/sleep", "302"])
    first = subprocess.Popen(["/bin/sleep", "303"])      # lcore 0 as the lab started it
    try:
        write_record(run_dir, WorkerRecord(0, ["/bin/sleep", "303"], "/", None, "/dev/null", first.pid))
        write_record(run_dir, WorkerRecord(1, ["/bin/sleep", "301"], "/", None, "/dev/null", restarted.pid))
        # lcore 2's record names a pid that now runs another command: never killed
        write_record(run_dir, WorkerRecord(2, ["/bin/sleep", "999"], "/", None, "/dev/null", other.pid))
        dead = RunRecord("lab", "killed", tmp_path / "lab-1.json", Proc(dead_pid(), 1, "gone"))
        dead.save()
        dead.add_proc(first.pid, "lcore worker 0")
        dead.add_worker_dir(run_dir)
        assert RunRecord.load(dead.path).worker_dirs == [str(run_dir)]
        out = clean_dead_runs(tmp_path)
        restarted.wait(5)
        first.wait(5)
        assert other.poll() is None
        # each process counted once: the lab's own worker by its record, not again by its start record
        assert out.killed == [f"lcore worker 0 (pid {first.pid})",
                              f"lcore worker 1 (pid {restarted.pid}, from its start record)"]
    finally:
        for p in (restarted, other, first):
            p.kill()
            p.wait()
