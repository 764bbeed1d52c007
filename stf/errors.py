"""Errors of the STF runner. Every expected failure is one of these, with a one-line message
naming the bad value; the CLI prints it and exits non-zero without a traceback."""

from __future__ import annotations


class StfError(Exception):
    """Base of every expected failure of the runner."""


class StfSyntaxError(StfError):
    """An STF file that does not parse: `file:line: what`."""


class StfMappingError(StfError):
    """An STF command that has no P4Runtime meaning for this program (unknown table, field,
    action or parameter; a value wider than its field)."""


class PortError(StfError):
    """A TUN/TAP port that cannot be created or used (not root, no /dev/net/tun, bad frame)."""


class CorpusError(StfError):
    """The corpus or a compiled program is missing or unusable."""
