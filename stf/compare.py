"""Compare the frames a target sent with an STF file's `expect` lines. Pure.

The rules are those of p4c's BMv2 STF driver (backends/bmv2/bmv2stf.py checkOutputs and
tools/testutils.py compare_pkt):
- every port that has a device (those of `packet` and `expect` lines) is checked; a port
  without `expect` lines must send nothing;
- a port's frames must match its `expect` lines one to one, in order, and be as many;
- a pattern is compared nibble by nibble with the frame in hex; `*` matches any nibble;
  a frame longer than its pattern matches, unless the pattern ended with `$`;
- `expect PORT` without data: that port is not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stf.parser import Expect


@dataclass
class PortExpectation:
    """What one port must send: patterns in order (with their `$`), or anything."""

    patterns: list[tuple[str, bool, int]] = field(default_factory=list)  # (pattern, exact, line)
    any_frames: bool = False


def expectations(expects: list[Expect]) -> dict[int, PortExpectation]:
    """Group `expect` lines by port, in file order."""
    out: dict[int, PortExpectation] = {}
    for e in expects:
        pe = out.setdefault(e.port, PortExpectation())
        if e.pattern is None:
            pe.any_frames = True
        else:
            pe.patterns.append((e.pattern, e.exact_length, e.line))
    return out


def frame_mismatch(pattern: str, exact_length: bool, frame: bytes) -> str | None:
    """None when `frame` matches; else why not (nibble positions count from 0)."""
    got = frame.hex().upper()
    if exact_length and len(got) > len(pattern):
        return f"frame is {len(frame)} bytes, longer than the {len(pattern) / 2:g} expected ($)"
    if len(got) < len(pattern):
        return f"frame is {len(frame)} bytes, shorter than the {len(pattern) / 2:g} expected"
    for i, want in enumerate(pattern):
        if want != "*" and want != got[i]:
            return (
                f"nibble {i} (byte {i // 2}) is {got[i]}, expected {want}: "
                f"got {got[max(0, i - 8) : i + 8]} around it"
            )
    return None


def check(
    expected: dict[int, PortExpectation], received: dict[int, list[bytes]], ports: list[int]
) -> list[str]:
    """Every difference, one line each; empty when the run passes."""
    problems: list[str] = []
    for port in ports:
        frames = received.get(port, [])
        pe = expected.get(port, PortExpectation())
        if pe.any_frames:
            continue
        if len(frames) != len(pe.patterns):
            problems.append(f"port {port}: expected {len(pe.patterns)} frame(s), got {len(frames)}")
            if not pe.patterns:
                continue
        pairs = zip(pe.patterns, frames, strict=False)
        for idx, ((pattern, exact, line), frame) in enumerate(pairs):
            why = frame_mismatch(pattern, exact, frame)
            if why is not None:
                problems.append(f"port {port} frame {idx} (expect on line {line}): {why}")
    return problems
