"""`make clean` never hurts a running lab and never tracebacks (review findings 5 and 8):
a path or worker a running run also lists is left alone even when a killed run listed it
too; as non-root it refuses in one line; what it may not remove is reported, not raised."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fdirlab.run_record import WorkerRecord, write_record
from topo.runstate import Proc, RunRecord, clean_dead_runs

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_clean_leaves_a_running_lab_that_reuses_a_killed_labs_run_dir(tmp_path):
    """Lab A killed (record left), lab B started in the same run directory: cleaning A must
    not kill B's workers (their start records sit in the shared run directory), nor remove
    B's sockets or handoff rings."""
    state, run = tmp_path / "state", tmp_path / "run"
    state.mkdir()
    (run / "handoff").mkdir(parents=True)
    (run / "handoff" / "ring-0").write_text("B's ring")
    sock = run / "lcore-0.sock"
    sock.write_text("")
    b_worker = subprocess.Popen(["/bin/sleep", "304"])
    a_proc = subprocess.Popen(["/bin/sleep", "305"])       # something A started, still there
    try:
        write_record(run, WorkerRecord(0, ["/bin/sleep", "304"], "/", None, "/dev/null", b_worker.pid))
        a = RunRecord("lab", "A", state / "lab-1.json", Proc(dead_pid(), 1, "gone"))
        a.save()
        a.add_proc(a_proc.pid, "mininet:h1")
        a.add_worker_dir(run)
        a.add_file(sock)
        a.add_dir(run / "handoff")
        b = RunRecord.create("lab", "B", state)              # owner: this process, alive
        b.add_worker_dir(run)
        b.add_file(sock)
        b.add_dir(run / "handoff")
        out = clean_dead_runs(state)
        a_proc.wait(5)                                       # A's own process: killed
        assert b_worker.poll() is None                       # B's worker: alive
        assert sock.exists() and (run / "handoff" / "ring-0").read_text() == "B's ring"
        assert out.killed == [f"mininet:h1 (pid {a_proc.pid})"] and out.runs == 1
        who = f"(in use by the running lab 'B', pid {os.getpid()})"
        assert out.kept == [f"{run} {who}", f"{sock} {who}", f"{run / 'handoff'} {who}"]
        assert not a.path.exists() and b.path.exists()
        b.close()
    finally:
        for p in (b_worker, a_proc):
            p.kill()
            p.wait()


def _as_nobody() -> dict:
    return {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}


def test_clean_as_non_root_is_one_line_and_exit_2(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), FDIRLAB_STATE_DIR=str(tmp_path / "state"))
    r = subprocess.run([sys.executable, "-m", "topo", "clean"], cwd="/", env=env, capture_output=True,
                       text=True, timeout=60, **_as_nobody())
    assert r.returncode == 2, r
    assert r.stderr.startswith("clean: needs root") and r.stderr.count("\n") == 1 and r.stdout == ""


@pytest.mark.root
def test_clean_without_permission_reports_what_it_could_not_remove():
    """The clean-up code itself, run as a user who may not signal root's processes nor
    delete root's record: each failure is listed, nothing raises, nothing is removed."""
    state = Path(tempfile.mkdtemp(prefix="fdirlab-clean-"))        # readable by nobody, not writable
    os.chmod(state, 0o755)
    victim = subprocess.Popen(["/bin/sleep", "306"])
    try:
        dead = RunRecord("lab", "killed", state / "lab-1.json", Proc(dead_pid(), 1, "gone"))
        dead.save()
        dead.add_proc(victim.pid, "real server rs1")
        dead.add_file(state / "lcore-0.sock")
        (state / "lcore-0.sock").write_text("")
        os.chmod(dead.path, 0o644)
        code = ("import json, sys\nfrom dataclasses import asdict\nfrom pathlib import Path\n"
                "from topo.runstate import clean_dead_runs\n"
                "print(json.dumps(asdict(clean_dead_runs(Path(sys.argv[1])))))")
        r = subprocess.run([sys.executable, "-c", code, str(state)], cwd="/", capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60, **_as_nobody())
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        out = json.loads(r.stdout)
        assert out["failed"] == [f"real server rs1 (pid {victim.pid}): Operation not permitted",
                                 f"{state / 'lcore-0.sock'}: Permission denied",
                                 f"run record {dead.path}: Permission denied (left in place)"]
        assert out["runs"] == 0 and out["killed"] == [] and out["paths"] == []
        assert victim.poll() is None and dead.path.exists() and (state / "lcore-0.sock").exists()
    finally:
        victim.kill()
        victim.wait()
        shutil.rmtree(state)


@pytest.mark.root
def test_what_is_already_gone_counts_as_removed_and_only_what_stays_failed(tmp_path):
    """Break-it finding 7: a veth vanishes with its peer's namespace while `make clean` runs
    ("could not remove link s1-eth37: Cannot find device", exit 1). A recorded link,
    namespace, file or directory already gone is removed; one still there after its delete
    (lo cannot be deleted) is the only failure."""
    tag = f"t7{os.getpid() % 100000}"
    subprocess.run(["ip", "link", "add", f"{tag}a", "type", "veth", "peer", "name", f"{tag}b"], check=True)
    subprocess.run(["ip", "netns", "add", f"{tag}ns"], check=True)
    try:
        dead = RunRecord("lab", "killed", tmp_path / "lab-1.json", Proc(dead_pid(), 1, "gone"))
        dead.save()
        dead.add_link(f"{tag}a", f"{tag}gone", "lo")
        dead.add_netns(f"{tag}ns")
        dead.add_netns(f"{tag}nsgone")
        dead.add_file(tmp_path / "lcore-0.sock")            # never made: gone already
        dead.add_dir(tmp_path / "handoff")                    # likewise
        out = clean_dead_runs(tmp_path)
        assert out.links == [f"{tag}a", f"{tag}gone"] and out.netns == [f"{tag}ns", f"{tag}nsgone"]
        assert out.paths == [str(tmp_path / "lcore-0.sock"), str(tmp_path / "handoff")]
        assert len(out.failed) == 1 and out.failed[0].startswith("link lo: "), out.failed
        assert not Path(f"/sys/class/net/{tag}a").exists() and not Path(f"/run/netns/{tag}ns").exists()
    finally:
        subprocess.run(["ip", "link", "del", f"{tag}a"], capture_output=True)
        subprocess.run(["ip", "netns", "del", f"{tag}ns"], capture_output=True)
