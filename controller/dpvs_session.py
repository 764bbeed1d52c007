"""What DPVS's ipvsadm and dpip share in the lab: the lab file (from --lab or $FDIRLAB_LAB),
the switch session fdirctl uses, the workers, and all-or-nothing worker calls.

`on_all_workers` calls one op on every worker; if one refuses or is unreachable, the workers
already changed are put back with the undo op, so all workers end as they began.
"""

from __future__ import annotations

import fcntl
import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from controller import errors as E
from controller.undo import Undo
from controller.workers import WorkerClient, WorkerSet
from fdirlab.errors import FdirlabError
from fdirlab.lab_config import LAB_ENV


def lab_path(given: str | None, tool: str) -> str:
    path = given or os.environ.get(LAB_ENV)
    if not path:
        raise E.BadInput(f"{tool} needs the lab: --lab /tmp/fdirlab/<lab>/lab.toml or ${LAB_ENV}")
    return path


def open_session(path: str) -> Any:
    """fdirctl's own Session on this lab file (so switch access, P4Info and workers are the
    same code as `fdirctl --lab F ...`)."""
    from controller.cli import build_parser
    from controller.session import Session

    return Session(build_parser().parse_args(["--lab", path, "status"]))


@contextmanager
def tool_lock(session: Any) -> Iterator[None]:
    """One ipvsadm/dpip command at a time per lab: a command's checks and its changes on the
    switch and every worker are not interleaved with another's (flock on the run dir)."""
    path = Path(session.lab.run_dir) / ".dpvs-tools.lock"
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as e:
        raise E.StateError(
            f"lab run dir {session.lab.run_dir}: {e.strerror or e}: is the lab running?"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def lab_ctx(session: Any, write: bool = True) -> Any:
    """The session's switch context; when the switch holds no ARP answer yet (a lab that
    started without VIPs and local addresses, as a dpvs.conf lab does), the LB MAC the
    NIC must answer with comes from the lab file, so `dpip addr add` and `--add-laddr`
    install ARP answers like init does. write: take the switch's writer lock and arbitrate
    as primary (controller.writelock); reads need neither."""
    import dataclasses

    ctx = session.ctx(write=write)
    read = ctx.state

    def state(counters: bool = False) -> Any:
        st = read(counters)
        if st.layout is not None and st.layout.lb_mac is None and session.lab is not None:
            st.layout = dataclasses.replace(st.layout, lb_mac=session.lab.lb_mac)
        return st

    ctx.state = state
    return ctx


def workers(session: Any) -> WorkerSet:
    lab = session.lab
    ws = WorkerSet.from_run_dir(lab.run_dir, lab.n_lcores, session.args.timeout)
    session._ws.append(ws)
    return ws


def on_all_workers(
    ws: WorkerSet, op: str, args: dict[str, Any], undo: Callable[[WorkerClient], object] | None
) -> list[dict[str, Any]]:
    """The op on every worker, or (after undoing the ones done) on none; returns the answers."""
    ws.check_reachable()
    done: list[WorkerClient] = []
    answers = []
    try:
        for c in ws.clients:
            answers.append(c.call(op, **args))
            done.append(c)
    except E.WorkerError as exc:
        if undo is not None:
            undone = Undo()
            for c in reversed(done):
                undone.step(f"lcore {c.lcore}: {op} not undone", functools.partial(undo, c))
            undone.check(exc)
        raise
    return answers


def split_addr_port(text: str, what: str, default_port: int | None = None) -> tuple[str, int]:
    """`10.0.0.1:80`, `[fd00::1]:80`, or (with default_port) `10.0.0.1` / `[fd00::1]`, as
    ipvsadm's parse_service/parse_dest read them; the address is returned canonical."""
    import ipaddress

    t = text.strip()
    port: str | None = None
    if t.startswith("["):
        host, sep, rest = t[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise E.BadInput(f"{what} {text!r}: expected [IPv6]:PORT")
        port = rest[1:] if rest else None
    elif t.count(":") == 1:
        host, _, port = t.partition(":")
    else:
        host = t
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise E.BadInput(f"{what} {text!r}: {host!r} is not an IP address") from None
    if port is None or port == "":
        if default_port is None:
            raise E.BadInput(f"{what} {text!r}: missing :PORT")
        return str(addr), default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise E.BadInput(f"{what} {text!r}: port {port!r} is not 1..65535")
    return str(addr), int(port)


def addr_port(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def run_locked(tool: str, session: Any, fn: Callable[[], str], write: bool) -> str:
    """Run one ipvsadm/dpip command, then close the session. write: the command changes the
    switch or the workers; it takes the switch's writer lock before its first check, as
    fdirctl's writers do, so no other writer (fdirctl, ipvsadm, dpip) interleaves with it
    (break-it 3: `fdirctl laddr del` and `ipvsadm -Q` together left a service without local
    addresses), then the tools' lock of the lab's run dir. Reads take neither: a listing never
    waits behind a writer. A command cut short (Ctrl-C, a failed rollback, a bug) leaves a
    writer's mark in the lock file (controller/writelock.py); Ctrl-C becomes Interrupted
    (exit 130)."""
    completed = False
    try:
        try:
            if write:
                session.take_write_lock(tool)
                with tool_lock(session):
                    out = fn()
            else:
                out = fn()
        except KeyboardInterrupt:
            raise E.interrupted(tool, session.lock is not None and session.lock.writing) from None
        completed = True
        return out
    except (E.ControllerError, FdirlabError) as e:
        completed = not isinstance(e, (E.RollbackFailed, E.Interrupted))
        raise
    finally:
        session.close(completed)


def tool_main(tool: str, run: Callable[[], str]) -> int:
    """The console-script body of `ipvsadm` and `dpip`: run, print its output, and turn
    expected failures into one line `tool: why` with the exit code fdirctl would give
    (controller/errors.py); a bug is one line too, exit EXIT_INTERNAL."""
    try:
        code = _tool_main(tool, run)
        sys.stdout.flush()      # here, not at exit: a reader that went away is seen below
        return code
    except BrokenPipeError:     # the reader of stdout went away (`ipvsadm -ln | head -3`)
        from controller.stdout import reader_gone
        return reader_gone()


def _tool_main(tool: str, run: Callable[[], str]) -> int:
    try:
        out = run()
    except E.ControllerError as e:
        if e.details.get("output"):     # a read that lists what it could (a dead worker's lcore named)
            print(e.details["output"])
        print(str(e) if str(e).startswith(tool) else f"{tool}: {e}", file=sys.stderr)
        return e.exit_code
    except FdirlabError as e:
        print(f"{tool}: {e}", file=sys.stderr)
        return E.EXIT_USAGE
    except KeyboardInterrupt:   # before or after the session: nothing half written
        print(f"{tool}: interrupted", file=sys.stderr)
        return E.EXIT_INTERRUPTED
    except BrokenPipeError:     # not a bug: tool_main ends quietly
        raise
    except Exception as e:  # a bug: one line, like fdirctl
        print(f"{tool}: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return E.EXIT_INTERNAL
    if out:
        print(out)
    return 0
