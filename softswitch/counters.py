"""Indirect counter arrays and register arrays of a program, as plain Python lists.

A counter cell is a two-item list [packets, bytes] so that generated code and the flow cache share it.
"""
from __future__ import annotations

import time
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


class Meter:
    """One meter cell: a two-rate three-color marker as BMv2 runs it (bm_sim/meters.cpp).

    Rates are (info_rate per microsecond, burst) pairs; the peak bucket is checked first: short
    of tokens there is RED (2), then the committed bucket: short there is YELLOW (1), else GREEN (0).
    Tokens accrue from one time origin; an unconfigured meter marks everything GREEN.
    """
    __slots__ = ("config", "rates", "tokens", "last", "origin")

    def __init__(self) -> None:
        self.config: tuple[int, int, int, int] | None = None   # (cir, cburst, pir, pburst) per second
        self.rates: list[tuple[float, int, int]] = []           # (rate per us, burst, color), peak first
        self.tokens: list[int] = []
        self.last: list[int] = []
        self.origin = time.monotonic()

    def configure(self, cir: int, cburst: int, pir: int, pburst: int) -> None:
        self.config = (cir, cburst, pir, pburst)
        self.rates = [(pir / 1e6, pburst, 2), (cir / 1e6, cburst, 1)]
        self.tokens = [pburst, cburst]
        self.last = [0, 0]

    def reset(self) -> None:
        self.config = None
        self.rates = []

    def execute(self, amount: int) -> int:
        """The color for a packet of `amount` units (1 for packet meters, its bytes for byte meters)."""
        if self.config is None:
            return 0
        micros = int((time.monotonic() - self.origin) * 1e6)
        color = 0
        for i, (rate, burst, c) in enumerate(self.rates):
            since = int(micros * rate)
            new = since - self.last[i]
            self.last[i] = since
            tokens = min(self.tokens[i] + new, burst)
            if tokens < amount:
                self.tokens[i] = tokens
                color = c
                break
            self.tokens[i] = tokens - amount
        return color


@dataclass
class MeterArray:
    name: str
    size: int
    cells: list[Meter]
    packets: bool                 # unit: packets (else bytes)
    binding: str | None = None    # table name of a direct meter
    result: list[str] | None = None   # direct meter: field receiving the color

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> MeterArray:
        direct = bool(spec.get("is_direct"))
        if int(spec.get("rate_count", 2)) != 2:
            raise ValueError(f"meter {spec['name']}: rate_count {spec.get('rate_count')} (v1model uses 2)")
        size = int(spec.get("size", 0))
        return cls(spec["name"], size, [] if direct else [Meter() for _ in range(size)],
                   spec.get("type", "packets") == "packets",
                   spec.get("binding") if direct else None, spec.get("result_target"))


@dataclass
class ValueSet:
    """A parser value set (P4 `value_set`): members as (value, mask) over the packed key fields.

    Written whole by P4Runtime ValueSetEntry (MODIFY); matched by generated parser code.
    """
    name: str
    widths: list[int]              # key field widths in select() order
    size: int
    members: list[tuple[int, int]]

    def match(self, key: int) -> bool:
        for value, mask in self.members:
            if key & mask == value:
                return True
        return False
