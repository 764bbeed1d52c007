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


# Adaptive use: traffic whose frames never repeat byte for byte (live TCP: sequence numbers,
# IPv4 ids and checksums are in the key) only pays for a cache it cannot use -- the key, the
# lookup, building and inserting each result, clearing a full dict, and the garbage collector
# walking the cached entries. So the hit ratio of every WINDOW lookups decides: below
# 1/LOW_RATIO, frames bypass the cache, except every SAMPLE-th one, which is looked up and
# stored as before; when those probes hit again (repeating traffic), the cache is used again.
WINDOW = 4096
LOW_RATIO = 16
SAMPLE = 64


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
        self.active = True           # False: only every SAMPLE-th frame uses the cache
        self.bypassed = 0            # frames that skipped the cache (see WINDOW)
        self._check_at = WINDOW
        self._hits_then = 0
        self._seen_then = 0

    def use(self) -> bool:
        """Look this frame up (and store its result on a miss)?"""
        if self.active:
            return True
        self.bypassed += 1
        if self.bypassed % SAMPLE:
            return False
        self.check()
        return True

    def check(self) -> None:
        """After each miss (and each probe while inactive): judge the last window of lookups."""
        seen = self.hits + self.misses
        if seen >= self._check_at:
            window_hits = self.hits - self._hits_then
            self.active = window_hits * LOW_RATIO >= seen - self._seen_then
            self._hits_then, self._seen_then = self.hits, seen
            self._check_at = seen + (WINDOW if self.active else WINDOW // SAMPLE)

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
