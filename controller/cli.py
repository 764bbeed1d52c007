"""fdirctl: drive the fdirlab NIC (P4Runtime) and its lcore workers from the command line.

Every command takes --json; expected failures are one line on stderr and an exit code
from controller/errors.py (2 bad input, 3 unreachable, 4 conflict, 5 write failed ...).
Each command is a module of controller/commands/ (its arguments and its run); this file
only wires them: the parser, the session, the output and the exit code.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

from controller import errors as E
from controller.argcheck import check_args
from controller.commands import (
    doctor,
    dpvs_conf,
    export,
    filters,
    init,
    laddr,
    reconcile,
    rss,
    schemes,
    show,
    stats,
    status,
    top,
    worker,
)
from controller.commands.common import Command, Parser, common_args
from controller.session import Session
from controller.stdout import reader_gone
from fdirlab.errors import FdirlabError
from fdirlab.lab_config import LAB_ENV

# command name -> its module, in the order `fdirctl --help` lists them
COMMANDS: dict[str, Command] = {
    "init": init, "laddr": laddr, "filter": filters, "show": show, "status": status,
    "reconcile": reconcile, "doctor": doctor, "rss": rss, "worker": worker, "stats": stats,
    "top": top, "schemes": schemes, "export": export, "dpvs-conf": dpvs_conf}


def build_parser() -> argparse.ArgumentParser:
    codes = "; ".join(f"{k} {v}" for k, v in E.EXIT_CODES.items())
    p = Parser(prog="fdirctl", description="Program the fdirlab NIC: flow director, RSS, local addresses.",
                epilog=f"Exit codes: {codes}. Adding a local address that is present is an error (4), "
                       "never a duplicate. State lives only on the switch (and in the lab file).")
    common_args(p, suppress=False)
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for module in COMMANDS.values():
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()      # here, not at exit: a reader that went away is seen below
        return code
    except BrokenPipeError:             # the reader of stdout went away (`| head`): end quietly
        return reader_gone()


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.lab is None and os.environ.get(LAB_ENV):
        args.lab = os.environ[LAB_ENV]  # as ipvsadm and dpip: `a; fdirctl b` at the lab's prompt
    session = None
    completed = False                   # False: a writer stopped part-way keeps its lock mark
    try:
        try:
            check_args(args)            # every argument, before any connection
            session = Session(args)
            res, text, code = COMMANDS[args.cmd].run(session)
        except KeyboardInterrupt:
            writing = session is not None and session.lock is not None and session.lock.writing
            raise E.interrupted("fdirctl", writing) from None
        completed = True
        if args.cmd == "reconcile" and code == 0 and session.lock is not None:
            session.lock.repairs = True     # the switch and workers are the lab's again
        if args.json:
            print(json.dumps({"ok": code == 0, "exit_code": code, **res}, default=str))
        elif text:
            print(text)
        return code
    except (E.ControllerError, FdirlabError) as e:
        if isinstance(e, E.ControllerError):
            err = e
        else:
            err = E.BadInput(str(e))
        # a failed write was undone (exit 5, 6 ...) unless its rollback failed or it was cut short
        completed = not isinstance(err, (E.RollbackFailed, E.Interrupted))
        if args.json:
            print(json.dumps(err.to_json(), default=str))
        msg = str(err)
        print(msg if msg.startswith("fdirctl:") else f"fdirctl: {msg}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:             # not a bug: main() ends quietly
        completed = True
        raise
    except Exception as e:  # a bug: one line unless --debug
        if args.debug:
            traceback.print_exc()
        print(f"fdirctl: internal error: {type(e).__name__}: {e} (rerun with --debug)", file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "error": f"internal error: {e}", "exit_code": E.EXIT_INTERNAL}))
        return E.EXIT_INTERNAL
    finally:
        if session is not None:
            session.close(completed)


if __name__ == "__main__":
    sys.exit(main())
