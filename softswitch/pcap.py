"""pcap files per port and direction (`IFACE_in.pcap`, `IFACE_out.pcap`), named as BMv2 names them.

Written by the frame loop; flushed per frame so that files can be read while the switch runs.
"""
from __future__ import annotations

import os
import struct
import time
from typing import BinaryIO


class PcapWriter:
    def __init__(self, path: str) -> None:
        self.f: BinaryIO = open(path, "wb")  # noqa: SIM115 - written frame by frame until close()
        # Global header: magic, v2.4, tz 0, sigfigs 0, snaplen 65535, linktype 1 (Ethernet).
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.f.flush()

    def write(self, frame: bytes) -> None:
        now = time.time()
        sec = int(now)
        self.f.write(struct.pack("<IIII", sec, int((now - sec) * 1e6), len(frame), len(frame)))
        self.f.write(frame)
        self.f.flush()

    def close(self) -> None:
        self.f.close()


class PcapSet:
    """Both directions for every port."""

    def __init__(self, directory: str, ifaces: dict[int, str]) -> None:
        os.makedirs(directory, exist_ok=True)
        self.rx = {p: PcapWriter(os.path.join(directory, f"{i}_in.pcap")) for p, i in ifaces.items()}
        self.tx = {p: PcapWriter(os.path.join(directory, f"{i}_out.pcap")) for p, i in ifaces.items()}

    def close(self) -> None:
        for w in list(self.rx.values()) + list(self.tx.values()):
            w.close()
