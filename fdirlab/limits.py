"""Bounds that more than one layer checks (the lab file, the lcore workers, the dpvs.conf
reader, the lab's Mininet hosts), defined once so a value one layer accepts is never refused
by the next one late, after the lab has started.

Pure constants, no imports of ours.
"""
from __future__ import annotations

# sa_pool buckets per (local address, lcore): DPVS sa_pool.c SAPOOL_MIN_HASH_SZ,
# SAPOOL_DEF_HASH_SZ, SAPOOL_MAX_HASH_SZ (dpvs.conf `pool_hash_size <16, 1-128>`)
MIN_POOL_HASH_SIZE = 1
DEFAULT_POOL_HASH_SIZE = 16
MAX_POOL_HASH_SIZE = 128

# AF_UNIX socket path: sun_path is 108 bytes including the terminating NUL (unix(7))
MAX_UNIX_PATH = 107

# Linux interface names: IFNAMSIZ is 16 including the NUL (linux/if.h)
MAX_IFNAME = 15

# IPVS schedulers the lcore workers implement (lcore/scheduler.py: DPVS ip_vs_rr.c,
# ip_vs_wrr.c, ip_vs_wlc.c) and the real-server weight range (ipvsadm -w 0..65535; weight 0
# quiesces a server: it gets no new conns). The lab file, ipvsadm and the workers use these.
SCHEDULERS = ("rr", "wrr", "wlc")
MAX_WEIGHT = 65535

# conn timeouts in seconds: DPVS include/ipvs/ipvs.h IPVS_TIMEOUT_MIN 0 and IPVS_TIMEOUT_MAX
# 31536000 (one year), both exclusive (ip_vs_proto_tcp.c/udp.c accept `timeout > MIN && timeout
# < MAX`; dpvs.conf.items documents <1-31535999>). The dpvs.conf reader takes DPVS's integers
# 1..31535999; the lab file and the workers take any number strictly between the two (a
# fraction of a second is the lab's extension for quick expiry).
TIMEOUT_EXCL_MIN = 0
TIMEOUT_EXCL_MAX = 31536000


def timeout_ok(v: object) -> bool:
    """True for a number of seconds DPVS accepts as a conn timeout (bool is not a number)."""
    return (not isinstance(v, bool) and isinstance(v, (int, float))
            and TIMEOUT_EXCL_MIN < v < TIMEOUT_EXCL_MAX)


TIMEOUT_RANGE = f"seconds in ({TIMEOUT_EXCL_MIN}, {TIMEOUT_EXCL_MAX}) (DPVS IPVS_TIMEOUT_MIN/MAX, exclusive)"
