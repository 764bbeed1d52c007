"""lab.run_dir is emptied at start, so only a directory fdirlab made is (review findings 4,
8 and 10): a lab file's relative, root or too-long run_dir is refused by the lab file
check; at start a directory without fdirlab's marker, or one a run record still names,
is refused with one line naming it, and nothing is changed."""
import os
import socket
import subprocess

import pytest

from fdirlab.lab_config import LabConfigError, parse_lab
from topo.errors import LabError
from topo.rundir import MARKER, check_no_record, prepare_run_dir
from topo.runstate import Proc, RunRecord


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("bad", ["logs", ".", "", "~/lab", "/", "//", "/tmp/../home/me", "/tmp/fdirlab/../.."])
def test_lab_file_run_dir_must_be_an_absolute_directory_path(bad):
    with pytest.raises(LabConfigError) as e:
        parse_lab({"lab": {"run_dir": bad}})
    msg = str(e.value)
    assert msg.startswith(f"lab.run_dir = {bad!r}: ") and "\n" not in msg


def test_lab_file_run_dir_is_normalised():
    assert parse_lab({"lab": {"run_dir": "/tmp/fdirlab//x/"}}).run_dir == "/tmp/fdirlab/x"
    assert parse_lab({}).run_dir == "/tmp/fdirlab/default"


def test_a_run_dir_too_long_for_the_control_sockets_is_refused():
    # sun_path holds 107 bytes: /<d>/lcore-3.sock with 4 lcores
    fits = "/" + "d" * (107 - len("/lcore-3.sock") - 1)
    assert parse_lab({"lab": {"run_dir": fits}}).socket_path(3).__len__() == 107
    long = fits + "x"
    with pytest.raises(LabConfigError, match=r"lab.run_dir = '/d+x': too long, the control socket "
                                             r"'/d+x/lcore-3.sock' is 108 bytes, past the 107"):
        parse_lab({"lab": {"run_dir": long}})
    # the longest socket is the last lcore's: 11 lcores (lcore-10.sock) need one byte more than 4
    with pytest.raises(LabConfigError, match="lcore-10.sock"):
        parse_lab({"lab": {"run_dir": fits}, "lcores": {"count": 11}})


def test_a_directory_fdirlab_did_not_make_is_refused_and_kept(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(LabError) as e:
        prepare_run_dir(home, state_dir=tmp_path / "state")
    assert str(e.value).startswith(f"run directory {home}: not made by fdirlab (no {MARKER} in it)")
    assert (home / "thesis.tex").read_text() == "years of work"
    assert not (home / MARKER).exists()


def test_a_marked_or_empty_directory_is_emptied_and_marked(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    prepare_run_dir(run, state_dir=tmp_path / "state")           # empty: used
    assert [p.name for p in run.iterdir()] == [MARKER]
    (run / "logs").mkdir()
    (run / "logs" / "old.log").write_text("x")
    prepare_run_dir(run, state_dir=tmp_path / "state")           # marked by the first start
    assert [p.name for p in run.iterdir()] == [MARKER]
    fresh = tmp_path / "a" / "b"
    prepare_run_dir(fresh, state_dir=tmp_path / "state")          # missing: made
    assert (fresh / MARKER).is_file()


def test_a_symlink_or_a_file_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(LabError, match=f"run directory {link}: is a symbolic link"):
        prepare_run_dir(link, state_dir=tmp_path / "state")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(LabError, match=f"run directory {f}: exists and is not a directory"):
        prepare_run_dir(f, state_dir=tmp_path / "state")
    assert (target / "keep").exists() and f.read_text() == "x"


def test_start_refuses_a_run_dir_a_killed_or_running_run_still_names(tmp_path):
    """Finding 8: a killed lab's record names /tmp/fdirlab/default; a new lab there would
    have its workers killed by the next `make clean`. Start refuses until clean ran."""
    state = tmp_path / "state"
    state.mkdir()
    run = tmp_path / "run"
    run.mkdir()
    (run / MARKER).write_text("")
    (run / "lcore-0.sock").write_text("")
    dead = RunRecord("lab", "killed", state / "lab-1.json", Proc(dead_pid(), 1, "gone"))
    dead.save()
    dead.add_worker_dir(run)
    dead.add_file(run / "lcore-0.sock")
    with pytest.raises(LabError) as e:
        prepare_run_dir(run, state_dir=state)
    assert str(e.value) == (f"run directory {run}: the killed lab 'killed' (pid {dead.owner.pid}) left its "
                            f"workers' state there: run `make clean` first")
    assert (run / "lcore-0.sock").exists()                       # nothing changed
    dead.close()
    live = RunRecord.create("lab", "running", state)             # owner: this process
    live.add_dir(run / "handoff")                                # a path inside run_dir
    with pytest.raises(LabError, match=rf"run directory {run}: in use by the running lab 'running' "
                                       rf"\(pid {os.getpid()}\)"):
        check_no_record(run, state)
    live.close()
    check_no_record(run, state)                                  # no record: fine


@pytest.mark.root
def test_lab_start_refuses_an_unmarked_run_dir_and_changes_nothing(tmp_path):
    """The same through LabRun.start, before any Mininet node exists."""
    from topo.lab import LabRun
    victim = tmp_path / "mine"
    victim.mkdir()
    (victim / "notes.txt").write_text("keep me")
    with socket.socket() as s:                  # a free port for the switch that never starts
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lab = LabRun(data={"lab": {"name": "victim", "run_dir": str(victim)},
                       "switch": {"grpc_addr": f"127.0.0.1:{port}"}}, target="softswitch")
    with pytest.raises(LabError, match=f"run directory {victim}: not made by fdirlab"):
        lab.start()
    assert (victim / "notes.txt").read_text() == "keep me" and lab.net is None and lab.record is None


def _victim(tmp_path):
    victim = tmp_path / "victim" / "default"
    victim.mkdir(parents=True)
    (victim / "important.txt").write_text("precious")
    return victim


@pytest.mark.root
def test_a_run_dir_under_the_scratch_root_that_a_symlink_leads_out_of_is_refused(tmp_path):
    """Break-it finding 2: <root>/bklink -> victim; <root>/bklink/default used to be wiped
    because it lies under the scratch root by name. Decided on the resolved path now."""
    root = tmp_path / "fdirlab"
    root.mkdir()
    victim = _victim(tmp_path)
    (root / "bklink").symlink_to(victim.parent)
    run = root / "bklink" / "default"
    with pytest.raises(LabError) as e:
        prepare_run_dir(run, state_dir=tmp_path / "state", root=root)
    assert str(e.value) == (f"run directory {run}: resolves to {victim}, outside {root} (a symbolic link "
                            f"on the way); refused")
    assert (victim / "important.txt").read_text() == "precious" and not (victim / MARKER).exists()
    prepare_run_dir(root / "real", state_dir=tmp_path / "state", root=root)   # a real one still works
    assert (root / "real" / MARKER).is_file()


@pytest.mark.root
def test_a_scratch_root_that_is_a_symlink_or_someone_elses_is_refused(tmp_path):
    victim = _victim(tmp_path)
    root = tmp_path / "fdirlab"
    root.symlink_to(victim.parent)                    # any user may make /tmp/fdirlab first
    with pytest.raises(LabError) as e:
        prepare_run_dir(root / "default", state_dir=tmp_path / "state", root=root)
    assert str(e.value).startswith(f"run directory {root / 'default'}: {root} is a symbolic link") \
        and "\n" not in str(e.value)
    assert (victim / "important.txt").read_text() == "precious" and not (victim / MARKER).exists()
    root.unlink()
    root.mkdir()
    (root / "default").mkdir()
    (root / "default" / "theirs.txt").write_text("x")
    os.chown(root, 65534, 65534)                      # nobody's
    with pytest.raises(LabError, match=rf"run directory {root / 'default'}: {root} belongs to uid 65534, "
                                       rf"not root; refused"):
        prepare_run_dir(root / "default", state_dir=tmp_path / "state", root=root)
    with pytest.raises(LabError, match="belongs to uid 65534"):      # nothing made in it either
        prepare_run_dir(root / "new", state_dir=tmp_path / "state", root=root)
    assert (root / "default" / "theirs.txt").exists() and not (root / "new").exists()
