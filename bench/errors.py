"""Exceptions of bench/: each names the bad value (a path, an argument) in one line."""


class BenchError(Exception):
    """A bench input (a results folder, an argument) cannot be used."""
