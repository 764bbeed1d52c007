"""Commands fdirctl, ipvsadm and dpip print for a user to paste into a shell (the fix of a
finding, of a dead lcore ...): every argument taken from the user is quoted (shlex.quote), so
a lab file path with a space or a `;` is one argument there too, never shell syntax."""
from __future__ import annotations

import shlex


def fdirctl(lab: str | None, *args: str) -> str:
    """`fdirctl --lab LAB ARGS...` with LAB quoted; LAB None: the placeholder FILE."""
    head = f"fdirctl --lab {shlex.quote(lab) if lab else 'FILE'}"
    return " ".join([head, *args]) if args else head
