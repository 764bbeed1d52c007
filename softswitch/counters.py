"""Indirect counter arrays and register arrays of a program, as plain Python lists.

A counter cell is a two-item list [packets, bytes] so that generated code and the flow cache share it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class CounterArray:
    name: str
    size: int
    cells: list[list[int]]
    binding: str | None = None   # table name of a direct counter

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> CounterArray:
        size = int(spec.get("size", 0))
        direct = bool(spec.get("is_direct"))
        return cls(spec["name"], size, [] if direct else [[0, 0] for _ in range(size)],
                   spec.get("binding") if direct else None)

    def reset(self) -> None:
        for c in self.cells:
            c[0] = c[1] = 0


@dataclass
class RegisterArray:
    name: str
    bitwidth: int
    cells: list[int]

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> RegisterArray:
        return cls(spec["name"], int(spec["bitwidth"]), [0] * int(spec["size"]))
