"""The one exception module of the lcore package: every expected failure (bad argument,
bad control request, exhausted resource) is an LcoreError with a one-line message."""
from __future__ import annotations

from fdirlab.errors import FdirlabError


class LcoreError(FdirlabError):
    """Base: a message a user can act on; never shown with a traceback."""


class ConfigError(LcoreError, ValueError):
    """A bad command-line value or control-request field (names the bad value)."""


class PoolError(LcoreError):
    """sa_pool misuse: unknown/duplicate local address, releasing a port not in use."""


class HandoffError(LcoreError):
    """The shared handoff files cannot be created or do not match this configuration."""
