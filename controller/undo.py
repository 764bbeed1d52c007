"""Rollback steps that report their own failures.

After a failed multi-step change the controller undoes what it did; an undo step that fails
too leaves the workers or the switch neither as they were nor as asked. Such a failure is
recorded and the change ends in RollbackFailed (exit 8) naming what was not restored, never
in the original error, whose message promises a clean rollback.
"""
from __future__ import annotations

from collections.abc import Callable

from controller.errors import ControllerError, RollbackFailed


class Undo:
    """Collects the undo steps that failed. `step(what, fn)` runs fn(); a ControllerError it
    raises is recorded as "what (error)" and the next step still runs."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def step(self, what: str, fn: Callable[[], object]) -> None:
        try:
            fn()
        except ControllerError as exc:
            self.failed.append(f"{what} ({exc})")

    def check(self, err: ControllerError) -> None:
        """Raise RollbackFailed when a step failed or `err` is itself one: its message is err's
        followed by what was not restored (`not_restored` in the JSON details)."""
        if not self.failed and not isinstance(err, RollbackFailed):
            return
        got = err.details.get("not_restored") if isinstance(err, RollbackFailed) else None
        prior = [str(x) for x in got] if isinstance(got, list) else []
        msg = str(err)
        if self.failed:
            msg += f"; the rollback failed too, not restored: {'; '.join(self.failed)}"
        raise RollbackFailed(msg, not_restored=prior + self.failed) from None
