"""Dataplane internals: the flow cache (when it is used, what it keys on, that it replays exactly),
and that no frame, however short or odd, escapes the packet path as an exception.
"""
from __future__ import annotations

import random

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from ss_helpers import LocalSwitch

from softswitch.pipeline import Dataplane


def test_cache_on_for_fdir_off_for_stateful_programs(fdir_program, features_program):
    fdir = Dataplane(fdir_program[1].read_bytes())
    assert fdir.cache is not None
    assert fdir.cache.prefix == 14 + 20 + 40 + 20     # longest parse: Ethernet, IPv4 + options, TCP
    feats = Dataplane(features_program[1].read_bytes())
    assert feats.cache is None                         # registers make results stateful
    assert "register state" in feats.code.uses_state


def test_cache_replays_result_and_counters(fdir_program):
    sw = LocalSwitch().load(fdir_program)
    sw.insert("l2_fwd", {"hdr.ethernet.dst_addr": 0x0200000000BB}, "forward", {"port": 2})
    dp = sw.device.dp
    frame = bytes(Ether(dst="02:00:00:00:00:bb") / IP() / TCP() / (b"p" * 100))
    first = dp.process(1, frame)
    second = dp.process(1, frame)
    assert first == second == (2, frame)
    assert second[1] is frame                          # unchanged frames are passed through as is
    assert (dp.cache.hits, dp.cache.misses) == (1, 1)
    # A longer payload shares the prefix, so it hits too, and counts its own length.
    longer = frame + b"tail"
    assert dp.process(1, longer) == (2, longer)
    assert sw.counter("port_rx", 1) == (3, 2 * len(frame) + len(longer))
    assert sw.counter("port_tx", 2) == (3, 2 * len(frame) + len(longer))
    # Another ingress port is another key.
    dp.process(3, frame)
    assert dp.cache.misses == 2


def test_no_frame_raises(fdir_program):
    sw = LocalSwitch().load(fdir_program)
    dp = sw.device.dp
    rng = random.Random(5)
    valid = bytes(Ether() / IP(options=b"\x01" * 4) / TCP())
    frames = [valid[:n] for n in range(len(valid) + 1)] + [rng.randbytes(rng.randint(0, 120))
                                                           for _ in range(2000)]
    for f in frames:
        dp.process(1, f)
    assert dp.stats.received == len(frames)
    assert dp.stats.internal_errors == 0
    assert dp.stats.parser_errors > 0
    assert sw.counter("port_rx", 1)[0] == len(frames)
