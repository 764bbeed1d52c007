"""Hash algorithms are bit-exact with BMv2's calculations.cpp (standard check values)."""
import zlib

from softswitch import hashes


def test_crc_check_values():
    data = b"123456789"
    assert hashes.crc16(data) == 0xBB3D          # CRC-16/ARC
    assert hashes.crc32(data) == 0xCBF43926      # CRC-32 (zlib)
    assert hashes.crc_ccitt(data) == 0x29B1      # CRC-16/CCITT-FALSE
    assert hashes.ALGORITHMS["crc16_custom"](data) == 0xBB3D
    assert hashes.ALGORITHMS["crc32_custom"](data) == 0xCBF43926


def test_crc32_matches_zlib_on_many_inputs():
    for n in range(0, 40):
        buf = bytes((i * 37 + n) & 0xFF for i in range(n))
        assert hashes.crc32(buf) == zlib.crc32(buf)


def test_csum16_ipv4_header_and_odd_length():
    hdr = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert hashes.csum16(hdr) == 0xB861
    with_ck = hdr[:10] + (0xB861).to_bytes(2, "big") + hdr[12:]
    assert hashes.csum16(with_ck) == 0
    assert hashes.csum16(b"\x01") == (~0x0100) & 0xFFFF


def test_identity_and_xor16():
    assert hashes.identity(b"\x01\x02\x03") == 0x010203
    assert hashes.identity(bytes(range(1, 11))) == int.from_bytes(bytes(range(1, 9)), "big")
    assert hashes.xor16(b"\x12\x34\x56\x78\x9a") == 0x1234 ^ 0x5678 ^ 0x9A00


def test_csum16_matches_word_loop_on_random_buffers():
    import random

    def ref(buf: bytes) -> int:
        if len(buf) % 2:
            buf += b"\x00"
        total = sum(int.from_bytes(buf[i:i + 2], "big") for i in range(0, len(buf), 2))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        return ~total & 0xFFFF

    rng = random.Random(7)
    for n in range(0, 64):
        for _ in range(50):
            buf = rng.randbytes(n)
            assert hashes.csum16(buf) == ref(buf)
    for buf in (b"\xff\xff", b"\xff\xff\xff\xff", b"\x00\x00", b"", b"\xff\xfe\x00\x01"):
        assert hashes.csum16(buf) == ref(buf)
