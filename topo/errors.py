"""Exceptions of the lab: each says what went wrong in a form the user can act on."""
from fdirlab.errors import FdirlabError


class LabError(FdirlabError):
    """The lab could not be built, started or torn down."""


class SwitchStartError(LabError):
    """The switch process did not come up; the message carries why (binary, port, log tail)."""
