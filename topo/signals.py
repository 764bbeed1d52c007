"""SIGTERM, SIGHUP and SIGQUIT (kill, an ssh disconnect, a closed terminal, Ctrl-\\) end a lab run as `exit`
does: the signal is turned into Terminated, raised in the main thread, so the `finally`
that stops the lab runs (its processes, links and run record removed). Without this the
default action kills the Python process at once and leaves the whole lab running."""
from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# SIGQUIT: Ctrl-\ at the prompt reaches the whole foreground group, the lab's process too
SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class Terminated(SystemExit):
    """Raised by the handler; its code is the shell's for a death by that signal (128 + N).
    A SystemExit, so `except Exception` (one failed bench case) does not swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


def _raise(signum: int, _frame: FrameType | None) -> None:
    for s in SIGNALS:                    # a second signal must not cut the teardown short
        signal.signal(s, signal.SIG_IGN)
    raise Terminated(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Inside: SIGTERM/SIGHUP raise Terminated (main thread only, as Python delivers
    signals there). The previous handlers are put back on leaving."""
    old = {s: signal.signal(s, _raise) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
