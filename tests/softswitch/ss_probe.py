"""Probe frames for ss_features.p4 (EtherType 0x88b5) and the values BMv2 computes for them.

Expected hash values are computed here independently of softswitch.hashes where a stdlib exists.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, fields

DST = bytes.fromhex("02000000000a")
SRC = bytes.fromhex("020000000001")
ETYPE = b"\x88\xb5"

# (name, bits) in header order
LAYOUT = [("op", 8), ("flags", 8), ("a", 16), ("b", 32), ("c", 32), ("h_crc16", 16), ("h_crc32", 32),
          ("h_csum16", 16), ("h_ccitt", 16), ("h_ident", 32), ("h_xor16", 16), ("reg_val", 32),
          ("arith", 32), ("peek", 8)]
PROBE_LEN = sum(w for _, w in LAYOUT) // 8


@dataclass
class Probe:
    op: int = 0
    flags: int = 0
    a: int = 0
    b: int = 0
    c: int = 0
    h_crc16: int = 0
    h_crc32: int = 0
    h_csum16: int = 0
    h_ccitt: int = 0
    h_ident: int = 0
    h_xor16: int = 0
    reg_val: int = 0
    arith: int = 0
    peek: int = 0

    def pack(self) -> bytes:
        acc = 0
        for name, w in LAYOUT:
            acc = (acc << w) | getattr(self, name)
        return acc.to_bytes(PROBE_LEN, "big")

    @classmethod
    def unpack(cls, data: bytes) -> Probe:
        acc = int.from_bytes(data[:PROBE_LEN], "big")
        vals = {}
        shift = PROBE_LEN * 8
        for name, w in LAYOUT:
            shift -= w
            vals[name] = (acc >> shift) & ((1 << w) - 1)
        return cls(**vals)


assert [f.name for f in fields(Probe)] == [n for n, _ in LAYOUT]


def frame(p: Probe, payload: bytes = b"PAYLOAD!", dst: bytes = DST) -> bytes:
    return dst + SRC + ETYPE + p.pack() + payload


def probe_of(frame_bytes: bytes) -> Probe:
    return Probe.unpack(frame_bytes[14:])


def inet_csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def crc16_arc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def expected_hashes(p: Probe) -> dict[str, int]:
    """What BMv2 writes for op 5: field lists packed bit by bit, zero-padded at the end."""
    odd = ((p.a << 67) | ((p.flags & 7) << 64) | (p.b << 32) | p.c) << 5   # 83 bits -> 11 bytes
    odd_bytes = odd.to_bytes(11, "big")
    abc = ((p.a << 64) | (p.b << 32) | p.c).to_bytes(10, "big")
    b = p.b.to_bytes(4, "big")
    bc = b + p.c.to_bytes(4, "big")
    xor = 0
    for i in range(0, 8, 2):
        xor ^= int.from_bytes(bc[i:i + 2], "big")
    return {
        "h_crc16": crc16_arc(odd_bytes),
        "h_crc32": zlib.crc32(odd_bytes),
        "h_csum16": inet_csum(abc),
        "h_ccitt": crc16_arc(b),               # crc16_custom with BMv2's default (ARC) parameters
        "h_ident": 5 + p.b % 1000,
        "h_xor16": xor,
    }
