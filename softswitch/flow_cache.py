"""A cache of pipeline results keyed by the packet bytes the parser can read (and the ingress port).

Like BMv2's and Open vSwitch's flow caches: a hit replays the verdict, rewritten headers and counter updates.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class CachedResult:
    out_port: int | None          # None: dropped
    headers: bytes                # deparsed headers replacing the first `consumed` bytes
    consumed: int                 # bytes the parser consumed (the rest is payload, passed through)
    cells: tuple[list[int], ...]  # counter cells ([packets, bytes]) the packet incremented
    unchanged: bool = False       # output frame == input frame: forward the received bytes as they are


class FlowCache:
    """Bounded dict; cleared whenever the control plane changes anything the pipeline reads."""

    def __init__(self, prefix_bytes: int, with_length: bool, capacity: int = 65536) -> None:
        self.prefix = prefix_bytes
        self.with_length = with_length
        self.capacity = capacity
        # One dict per ingress port, keyed by the frame prefix (and length when the program reads it).
        self.maps: dict[int, dict[object, CachedResult]] = {}
        self.size = 0
        self.hits = 0
        self.misses = 0

    def key(self, pkt: bytes) -> object:
        if self.with_length:
            return (len(pkt), pkt[:self.prefix])
        return pkt[:self.prefix]

    def port_map(self, port: int) -> dict[object, CachedResult]:
        m = self.maps.get(port)
        if m is None:
            m = self.maps[port] = {}
        return m

    def store(self, port: int, key: object, result: CachedResult) -> None:
        if self.size >= self.capacity:
            self.clear()  # cheap and bounded; a working set larger than this is not a cache's job
        self.port_map(port)[key] = result
        self.size += 1

    def clear(self) -> None:
        for m in self.maps.values():
            m.clear()
        self.size = 0
