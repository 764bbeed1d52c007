"""Worker configuration: the validated values of `python -m lcore` (one dataclass), shared by
the CLI, the datapath and the tests; each check names the bad value in its message."""
from __future__ import annotations

from dataclasses import dataclass

from fdirlab.errors import FdirlabError
from fdirlab.limits import DEFAULT_POOL_HASH_SIZE, MAX_POOL_HASH_SIZE, MIN_POOL_HASH_SIZE
from fdirlab.mask_math import DEFAULT_HIGH, DEFAULT_LOW, check_port_range
from fdirlab.partition import SCHEMES, Partition
from lcore.errors import ConfigError
from lcore.neighbours import parse_mac

MODES = ("fdir", "rss", "handoff")
DEFAULT_HANDOFF_DEPTH = 64          # VPP's frame-queue default (DPVS redirect rings: 2048)
MAX_HANDOFF_DEPTH = 1 << 16


@dataclass
class WorkerConfig:
    iface: str
    lcore_id: int
    n_lcores: int
    scheme: str
    mode: str
    mac: str
    ctl: str
    port_low: int = DEFAULT_LOW
    port_high: int = DEFAULT_HIGH
    pool_hash_size: int = DEFAULT_POOL_HASH_SIZE
    handoff_dir: str | None = None
    handoff_depth: int = DEFAULT_HANDOFF_DEPTH
    handoff_slots: int = 1 << 16
    log: str | None = None

    def validate(self) -> WorkerConfig:
        if self.scheme not in SCHEMES:
            raise ConfigError(f"unknown --scheme {self.scheme!r}: use one of {', '.join(SCHEMES)}")
        if self.mode not in MODES:
            raise ConfigError(f"unknown --mode {self.mode!r}: use one of {', '.join(MODES)}")
        try:
            Partition(self.scheme, self.n_lcores)
        except FdirlabError as exc:
            raise ConfigError(f"--n-lcores {self.n_lcores}: {exc}") from None
        if not 0 <= self.lcore_id < self.n_lcores:
            raise ConfigError(f"--lcore-id {self.lcore_id} out of range: "
                              f"{self.n_lcores} lcore(s) are 0..{self.n_lcores - 1}")
        parse_mac(self.mac)
        try:
            check_port_range(self.port_low, self.port_high)
        except FdirlabError as exc:
            raise ConfigError(f"--port-range: {exc}") from None
        if not MIN_POOL_HASH_SIZE <= self.pool_hash_size <= MAX_POOL_HASH_SIZE:   # DPVS sa_pool.c
            raise ConfigError(f"--pool-hash-size {self.pool_hash_size} invalid: "
                              f"need {MIN_POOL_HASH_SIZE}..{MAX_POOL_HASH_SIZE}")
        if self.mode == "handoff" and not self.handoff_dir:
            raise ConfigError("--mode handoff needs --handoff-dir DIR (shared by all workers)")
        if not 1 <= self.handoff_depth <= MAX_HANDOFF_DEPTH:
            raise ConfigError(f"--handoff-depth {self.handoff_depth} invalid: need 1..{MAX_HANDOFF_DEPTH}")
        if self.handoff_slots < 16 or self.handoff_slots & (self.handoff_slots - 1):
            raise ConfigError(f"--handoff-slots {self.handoff_slots} invalid: need a power of two >= 16")
        if not self.iface or "/" in self.iface or len(self.iface) > 15:
            raise ConfigError(f"--iface {self.iface!r} is not an interface name")
        return self


def parse_port_range(text: str) -> tuple[int, int]:
    try:
        lo, hi = text.split("-")
        low, high = int(lo), int(hi)
    except ValueError:
        raise ConfigError(f"--port-range {text!r} is not LOW-HIGH (e.g. 1025-65535)") from None
    try:
        check_port_range(low, high)
    except FdirlabError as exc:
        raise ConfigError(f"--port-range {text!r}: {exc}") from None
    return low, high
