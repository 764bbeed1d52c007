"""`fdirctl doctor`: every disagreement between lab file, switch and workers, each with its fix (docs/doctor.md)."""
from __future__ import annotations

from controller import errors as E
from controller import shellcmd
from controller.commands.common import Subparsers, command
from controller.doctor import Finding, WorkerView, diagnose
from controller.session import Result, Session
from controller.state import interpret
from controller.workers import read_view
from controller.writelock import WriteLock


def register(sub: Subparsers) -> None:
    command(sub, "doctor",
            "every disagreement between lab file, switch and workers, and misconfigurations, each with its fix")


def _views(s: Session, n: int, full: bool = True) -> list[WorkerView]:
    ws = s.workers_for(n)
    return [] if ws is None else [read_view(c, full) for c in ws.clients]


def run(s: Session) -> Result:
    # judge a settled state: wait for a writer that is mid-way (its half-written address is
    # not a finding); readers that do not judge (laddr list, show) never wait
    s.lock = lock = WriteLock(s.grpc_addr, s.device_id, s.args.lock_wait, "doctor", shared=True).acquire()
    ctx = s.ctx()
    p4info, _ = ctx.client.get_pipeline()
    st = ctx.state() if p4info is not None else interpret([])   # a restarted switch runs nothing
    views = _views(s, st.layout.n_lcores) if st.layout else []
    found = diagnose(st, views, s.lab, s.args.lab or "FILE")
    if lock.interrupted:
        found.insert(0, Finding(
            "warning", "writer-killed",
            f"the last writer of switch {s.grpc_addr} device {s.device_id} ({lock.interrupted}) ended "
            "holding the writer lock: it was killed or interrupted mid-write, so what it wrote may be half done "
            "(other findings here name what)",
            f"{shellcmd.fdirctl(s.args.lab)} reconcile (a completed reconcile clears this)"))
    errors = [f for f in found if f.severity == "error"]
    lines = [f"{f.severity.upper():7} {f.code}: {f.message}\n        fix: {f.fix}" for f in found]
    dead = [v.lcore for v in views if not v.alive]
    lines.append(f"{len(errors)} error(s), {len(found) - len(errors)} other finding(s)"
                 + ("" if views else " (switch only: no workers)")
                 + (f"; lcores answering: {[v.lcore for v in views if v.alive]}, dead: {dead}" if dead else ""))
    return {"findings": [f.to_json() for f in found], "errors": len(errors),
            "lcores_alive": [v.lcore for v in views if v.alive], "lcores_dead": dead}, "\n".join(lines), \
        E.EXIT_STATE if errors else 0
