"""Errors of the controller and fdirctl, each with the exit code the CLI returns for it.

Every expected failure is one of these; its message is one line naming the bad value.
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1          # a bug: unexpected exception (traceback only with --debug)
EXIT_USAGE = 2             # bad input: malformed IP, bad lcore count, bad lab file ... (argparse uses 2 too)
EXIT_UNREACHABLE = 3       # the switch (or its gRPC server) cannot be reached, or we are not primary
EXIT_CONFLICT = 4          # already exists / not found / in use / collides with another entry
EXIT_WRITE_FAILED = 5      # a write failed; everything it installed was removed again
EXIT_WORKER = 6            # an lcore worker refused or is unreachable; switch rolled back
EXIT_STATE = 7             # switch not initialised, or its state is inconsistent / drifts from the lab
EXIT_ROLLBACK_FAILED = 8   # a write failed AND the rollback failed: the switch may hold a partial set
EXIT_INTERRUPTED = 130     # Ctrl-C (128 + SIGINT, as a shell reports it); a write may be half done

EXIT_CODES = {
    EXIT_OK: "ok", EXIT_INTERNAL: "internal error", EXIT_USAGE: "bad input",
    EXIT_UNREACHABLE: "switch unreachable", EXIT_CONFLICT: "conflict",
    EXIT_WRITE_FAILED: "write failed, rolled back", EXIT_WORKER: "lcore worker error",
    EXIT_STATE: "switch state not as expected", EXIT_ROLLBACK_FAILED: "rollback failed",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}


class ControllerError(Exception):
    """Base: an expected failure with a one-line message and an exit code."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.details = details

    def to_json(self) -> dict[str, object]:
        return {"ok": False, "error": str(self), "exit_code": self.exit_code,
                "kind": type(self).__name__, **{k: v for k, v in self.details.items()}}


class BadInput(ControllerError):
    exit_code = EXIT_USAGE


class SwitchUnreachable(ControllerError):
    exit_code = EXIT_UNREACHABLE


class Conflict(ControllerError):
    exit_code = EXIT_CONFLICT


class WriteFailed(ControllerError):
    exit_code = EXIT_WRITE_FAILED


class WorkerError(ControllerError):
    exit_code = EXIT_WORKER


class StateError(ControllerError):
    exit_code = EXIT_STATE


class RollbackFailed(ControllerError):
    exit_code = EXIT_ROLLBACK_FAILED


class Interrupted(ControllerError):
    """Ctrl-C. A writer interrupted mid-write keeps its name in the writer lock file, so
    `fdirctl doctor` reports it (writer-killed) until a writer completes (reconcile)."""

    exit_code = EXIT_INTERRUPTED


def interrupted(tool: str, writing: bool) -> Interrupted:
    """The Interrupted error of `tool`; writing: it held the switch's writer lock."""
    if not writing:
        return Interrupted(f"{tool}: interrupted")
    return Interrupted(f"{tool}: interrupted while writing: what it wrote may be half done; "
                       "`fdirctl doctor` shows it, `fdirctl reconcile` repairs it")


class P4InfoMismatch(StateError):
    """The P4Info does not have the tables/actions this controller was written for."""
