"""Ternary overlap of flow-director entries. Pure.

P4Runtime (spec §9.1, "priority") lets the highest-priority matching entry win and leaves the
winner among overlapping entries of EQUAL priority to the target: BMv2 and softswitch may
pick different ones, and the pick may change when unrelated entries come and go. So fdirctl
refuses such overlaps when it writes, and doctor reports them instead of guessing a winner.
"""
from __future__ import annotations

from collections.abc import Iterable

from controller.entries import Entry, EntryKey

FDIR_TABLES = ("fdir_v4", "fdir_v6")


def _fields(e: Entry) -> dict[str, tuple[int, int | None]]:
    return {m.field: (m.value, m.mask) for m in e.match}


def overlaps(a: Entry, b: Entry) -> bool:
    """True if some packet matches both entries (same table). A ternary field left out is
    "don't care" (mask 0); exact fields must be equal."""
    if a.table != b.table:
        return False
    fa, fb = _fields(a), _fields(b)
    for name in set(fa) | set(fb):
        va, ma = fa.get(name, (0, 0))
        vb, mb = fb.get(name, (0, 0))
        if ma is None or mb is None:          # exact on either side
            if ma is None and mb is None:
                if va != vb:
                    return False
                continue
            exact, (tv, tm) = (va, (vb, mb)) if ma is None else (vb, (va, ma))
            if (exact ^ tv) & (tm or 0):
                return False
            continue
        if (va ^ vb) & ma & mb:
            return False
    return True


def equal_priority_overlaps(new: Entry, entries: Iterable[Entry]) -> list[Entry]:
    """The entries of `new`'s table with the same priority that overlap it (its own key excluded)."""
    return [e for e in entries
            if e.table == new.table and e.priority == new.priority and e.key != new.key and overlaps(new, e)]


def ambiguous_pairs(entries: list[Entry], suspects: list[Entry]) -> list[tuple[Entry, Entry]]:
    """Pairs (suspect, other) of flow-director entries with equal priority that overlap and
    act differently. Only pairs with a suspect are checked (generated filters of fdirctl are
    disjoint by construction), so this costs len(suspects) x len(entries)."""
    by_tp: dict[tuple[str, int], list[Entry]] = {}
    for e in entries:
        if e.table in FDIR_TABLES:
            by_tp.setdefault((e.table, e.priority), []).append(e)
    out: list[tuple[Entry, Entry]] = []
    seen: set[frozenset[EntryKey]] = set()
    for s in suspects:
        for e in by_tp.get((s.table, s.priority), []):
            pair = frozenset((s.key, e.key))
            if e.key == s.key or pair in seen:
                continue
            if (e.action, e.params) != (s.action, s.params) and overlaps(s, e):
                seen.add(pair)
                out.append((s, e))
    return out
