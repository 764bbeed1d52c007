"""A reader that went away: `fdirctl ... | head` closes the pipe after its lines, and the
next write raises BrokenPipeError (EPIPE; Python ignores SIGPIPE). Unix tools end quietly
there (killed by SIGPIPE, status 128 + 13 in a shell); fdirctl, ipvsadm and dpip do the same:
no message, exit EXIT_PIPE. Python docs, "Note on SIGPIPE" (library/signal.html).
"""
from __future__ import annotations

import os
import signal
import sys

EXIT_PIPE = 128 + signal.SIGPIPE       # what a shell reports for a tool killed by SIGPIPE


def reader_gone() -> int:
    """Point stdout at /dev/null (so the interpreter's final flush does not raise again and
    print "Exception ignored") and return the exit status to end with."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):   # stdout already closed or not a file: nothing to flush
        pass
    return EXIT_PIPE
