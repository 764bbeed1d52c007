"""Hash and checksum algorithms of BMv2 (bm_sim/calculations.cpp), bit-exact.

Inputs are the byte strings BMv2's BufBuilder produces; outputs are the integers BMv2 returns.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable

HashFn = Callable[[bytes], int]


def _reflect(value: int, nbits: int) -> int:
    out = 0
    for bit in range(nbits):
        if value & (1 << bit):
            out |= 1 << (nbits - 1 - bit)
    return out


def _table16(poly: int) -> list[int]:
    table = []
    for byte in range(256):
        rem = byte << 8
        for _ in range(8):
            rem = ((rem << 1) ^ poly) if rem & 0x8000 else (rem << 1)
        table.append(rem & 0xFFFF)
    return table


_CRC16_TABLE = _table16(0x8005)
_CCITT_TABLE = _table16(0x1021)
_REFLECT8 = [_reflect(b, 8) for b in range(256)]


def crc16(buf: bytes) -> int:
    """BMv2 crc16: poly 0x8005, reflected in and out, init 0, no final xor (CRC-16/ARC)."""
    rem = 0
    table, refl = _CRC16_TABLE, _REFLECT8
    for byte in buf:
        rem = table[refl[byte] ^ (rem >> 8)] ^ ((rem << 8) & 0xFFFF)
    return _reflect(rem, 16)


def crc32(buf: bytes) -> int:
    """BMv2 crc32: poly 0x04C11DB7 reflected, init and final xor 0xFFFFFFFF (= zlib's CRC-32)."""
    return zlib.crc32(buf) & 0xFFFFFFFF


def crc_ccitt(buf: bytes) -> int:
    """BMv2 crcCCITT: poly 0x1021, not reflected, init 0xFFFF, no final xor."""
    rem = 0xFFFF
    table = _CCITT_TABLE
    for byte in buf:
        rem = table[byte ^ (rem >> 8)] ^ ((rem << 8) & 0xFFFF)
    return rem


def csum16(buf: bytes) -> int:
    """Internet checksum (RFC 1071): ones' complement of the ones' complement sum of 16-bit words."""
    if len(buf) & 1:
        buf = buf + b"\x00"
    # 2**16 == 1 (mod 0xFFFF), so the end-around-carry sum of the words is the number mod 0xFFFF
    # (0xFFFF rather than 0 for a non-zero sum): one big-integer operation instead of a loop.
    value = int.from_bytes(buf, "big")
    if value == 0:
        return 0xFFFF
    total = value % 0xFFFF or 0xFFFF
    return ~total & 0xFFFF


def identity(buf: bytes) -> int:
    """BMv2 identity: the first (up to) 8 bytes as a big-endian integer."""
    return int.from_bytes(buf[:8], "big")


def xor16(buf: bytes) -> int:
    """BMv2 xor16: xor of 16-bit big-endian words, the tail zero-padded at the end."""
    if len(buf) & 1:
        buf = buf + b"\x00"
    out = 0
    for i in range(0, len(buf), 2):
        out ^= (buf[i] << 8) | buf[i + 1]
    return out


def xor32(buf: bytes) -> int:
    """BMv2 xor32: xor of 32-bit big-endian words, the tail zero-padded at the end."""
    pad = (-len(buf)) % 4
    if pad:
        buf = buf + bytes(pad)
    out = 0
    for i in range(0, len(buf), 4):
        out ^= int.from_bytes(buf[i:i + 4], "big")
    return out


def _crc_custom(width: int, poly: int, init: int, xor_out: int, refl_in: bool, refl_out: bool) -> HashFn:
    top = 1 << (width - 1)
    mask = (1 << width) - 1

    def fn(buf: bytes) -> int:
        rem = init
        for byte in buf:
            data = _REFLECT8[byte] if refl_in else byte
            rem ^= data << (width - 8)
            for _ in range(8):
                rem = ((rem << 1) ^ poly) if rem & top else (rem << 1)
                rem &= mask
        return (_reflect(rem, width) if refl_out else rem) ^ xor_out
    return fn


# Names as BMv2 registers them; crc*_custom use BMv2's default configurations.
ALGORITHMS: dict[str, HashFn] = {
    "crc16": crc16,
    "crc32": crc32,
    "crcCCITT": crc_ccitt,
    "csum16": csum16,
    "cksum16": csum16,      # BMv2 registers both names for the same function
    "xor32": xor32,
    "identity": identity,
    "xor16": xor16,
    "crc16_custom": _crc_custom(16, 0x8005, 0, 0, True, True),
    "crc32_custom": _crc_custom(32, 0x04C11DB7, 0xFFFFFFFF, 0xFFFFFFFF, True, True),
}


def get(algo: str) -> HashFn | None:
    return ALGORITHMS.get(algo)
