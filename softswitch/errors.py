"""The one exception type of softswitch, carrying a P4Runtime (google.rpc) status code.

Every layer raises SoftswitchError; the gRPC server turns it into a status, the CLI into a one-line message.
"""
from __future__ import annotations

from google.rpc import code_pb2


class SoftswitchError(Exception):
    """An error with a canonical google.rpc code (INVALID_ARGUMENT unless told otherwise)."""

    def __init__(self, message: str, code: int = code_pb2.INVALID_ARGUMENT) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


def unimplemented(what: str) -> SoftswitchError:
    """A construct of the program or the API that softswitch refuses, named in the message."""
    return SoftswitchError(f"unsupported by softswitch: {what}", code_pb2.UNIMPLEMENTED)
