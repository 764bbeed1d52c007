"""The switch's per-port pcap files (`--pcap DIR`: <iface>_in.pcap, <iface>_out.pcap), made
readable after the switch has stopped.

BMv2 opens each file with libpcap's pcap_dump_open, whose 24-byte file header waits in a
stdio buffer until the first frame is flushed (bmi_interface.c flushes after each frame).
simple_switch_grpc has no SIGTERM handler, so at stop the buffers of ports that never saw a
frame are lost: those files stay 0 bytes, and tcpdump or Wireshark refuse them as truncated.
Here such a file gets the header BMv2 would have written, so it reads as a capture of no
frames. softswitch writes its headers at start; its files are never empty.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

# libpcap savefile header (pcap-savefile(5)): magic, version 2.4, thiszone, sigfigs, snaplen,
# link type; little-endian microsecond magic, snaplen 262144 and LINKTYPE_ETHERNET (1), as
# BMv2's files on this machine carry them.
PCAP_MAGIC_USEC = 0xA1B2C3D4
PCAP_SNAPLEN = 262144
LINKTYPE_ETHERNET = 1
PCAP_HEADER = struct.pack("<IHHiIII", PCAP_MAGIC_USEC, 2, 4, 0, 0, PCAP_SNAPLEN, LINKTYPE_ETHERNET)


def pcap_names(iface: str) -> tuple[str, str]:
    """The two files a switch writes for one port: what it received, what it sent."""
    return f"{iface}_in.pcap", f"{iface}_out.pcap"


def complete_empty_pcaps(pcap_dir: Path, ifaces: Iterable[str]) -> list[Path]:
    """Give every empty <iface>_in/_out.pcap in pcap_dir a pcap file header (files that are
    missing or hold anything are left alone). Call only once the switch has exited.
    Returns the files completed. OSError from writing propagates."""
    done = []
    for iface in ifaces:
        for name in pcap_names(iface):
            path = pcap_dir / name
            try:
                empty = path.stat().st_size == 0
            except FileNotFoundError:
                continue
            if empty:
                path.write_bytes(PCAP_HEADER)
                done.append(path)
    return done
