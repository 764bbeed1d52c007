"""Exceptions of the fdirlab package: each one carries a message a user can act on."""


class FdirlabError(Exception):
    """Base of every error this package raises on bad input."""


class MaskMathError(FdirlabError, ValueError):
    """An lcore count, port range or lcore index the mask math cannot work with."""


class PartitionError(FdirlabError, ValueError):
    """An unknown port-partition scheme or arguments it cannot work with."""
