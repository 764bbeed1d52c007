"""`fdirctl reconcile`: make the switch and the workers match the lab file, touching only what differs."""
from __future__ import annotations

from controller import errors as E
from controller import shellcmd
from controller.commands.common import Subparsers, command
from controller.reconcile import reconcile
from controller.session import Result, Session


def register(sub: Subparsers) -> None:
    sp = command(sub, "reconcile", "make the switch and workers match the lab file, touching only what differs")
    sp.add_argument("--check", action="store_true", help="change nothing; exit 7 if anything differs")
    sp.add_argument("--force", action="store_true",
                    help="rewrite a switch that holds another layout (lcore/wire ports, scheme, mode, LB MAC)")


def run(s: Session) -> Result:
    if s.lab is None:
        raise E.BadInput("reconcile needs --lab FILE (the desired state)")
    res = reconcile(s.ctx(write=not s.args.check), s.lab, check_only=s.args.check,
                    workers=not s.args.no_workers, force=s.args.force)
    verb = "would" if s.args.check else "did"
    text = (f"reconcile {s.grpc_addr} with {s.args.lab}: "
            + ("pipeline pushed; " if res["pipeline_pushed"] else "")
            + (f"{verb} insert {res['insert']}, modify {res['modify']}, delete {res['delete']}"
               if res["changed"] else "already in sync"))
    if res["blocked"]:
        text += "\nBLOCKED (key held by a hand-made/foreign entry): " + "; ".join(res["blocked"])
    wk = res.get("workers") or {}
    changes = {k: v for k, v in wk.items() if k != "unreachable" and v}
    if changes:
        text = text.replace("already in sync", "switch already in sync")
        text += "\nworkers: " + ", ".join(f"{k} {v}" for k, v in changes.items())
    code = E.EXIT_STATE if (s.args.check and res["changed"]) or res["blocked"] else 0
    if wk.get("unreachable"):
        text += (f"\nlcores {wk['unreachable']} do not answer: `{shellcmd.fdirctl(s.args.lab)} worker restart N`, "
                 f"then reconcile again")
        code = code or E.EXIT_WORKER
    return res, text, code
