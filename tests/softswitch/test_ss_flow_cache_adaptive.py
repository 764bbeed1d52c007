"""The flow cache is bypassed when a window of lookups shows almost no hits (live TCP: no
frame repeats byte for byte) and used again when sampled frames hit (traffic repeats)."""
from __future__ import annotations

from softswitch.flow_cache import LOW_RATIO, SAMPLE, WINDOW, FlowCache


def frame(c: FlowCache, hit: bool) -> bool:
    """One frame as Dataplane.process treats it; returns whether it used the cache."""
    if not c.use():
        return False
    if hit:
        c.hits += 1
    else:
        c.misses += 1
        c.check()
    return True


def test_bypassed_without_hits_and_used_again_when_probes_hit():
    c = FlowCache(64, False)
    assert all(frame(c, hit=False) for _ in range(WINDOW))   # first window: all looked up
    assert not c.active
    used = [frame(c, hit=False) for _ in range(WINDOW)]
    assert sum(used) == WINDOW // SAMPLE and c.bypassed == WINDOW
    # repeating traffic: the probes hit; after WINDOW // SAMPLE of them the cache is back
    for _ in range(WINDOW + SAMPLE):
        frame(c, hit=True)
    assert c.active and frame(c, hit=True)


def test_rare_hits_keep_it_bypassed():
    c = FlowCache(64, False)
    for i in range(WINDOW):
        frame(c, hit=i % (2 * LOW_RATIO) == 0)                # half the ratio that pays
    assert not c.active
    for i in range(20 * WINDOW):
        frame(c, hit=i % (2 * LOW_RATIO * SAMPLE) == 0)
    assert not c.active


def test_repeating_traffic_keeps_it_active():
    c = FlowCache(64, False)
    for i in range(10 * WINDOW):
        frame(c, hit=i % 4 != 0)
    assert c.active and c.bypassed == 0
