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
