"""Switch-independent table entries: what the rule computation produces, what reads decode
into, and what reconcile diffs. Values are plain integers; p4names turns them into P4Runtime.

An entry's identity (`key`) is what P4Runtime identifies it by: table, match, priority.
Cookies mark who owns an entry (see the COOKIE_* helpers); reads return them unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Key field kinds (P4Info MatchField.match_type names)
EXACT = "exact"
TERNARY = "ternary"

COOKIE_PREFIX = b"fdirlab:"
COOKIE_HAND = b"fdirlab:hand"        # hand-made filters: never touched by laddr/reconcile
COOKIE_BASE = b"fdirlab:base"        # port roles, RETA, L2, ARP/lb_addr of VIPs


def cookie_laddr(addr: str, slot: int) -> bytes:
    return f"fdirlab:laddr:{addr};slot={slot}".encode()


def cookie_lcore(lcore: int, n: int, scheme: str, mode: str) -> bytes:
    """The init configuration, kept on every lcore's port_role entry: the switch is the only
    place fdirctl keeps state, so a restarted controller derives lcores and scheme from it."""
    return f"fdirlab:lcore:{lcore};n={n};scheme={scheme};mode={mode}".encode()


def parse_cookie(cookie: bytes) -> tuple[str, str, dict[str, str]]:
    """(kind, subject, attributes): b"fdirlab:laddr:10.0.0.1;slot=0" ->
    ("laddr", "10.0.0.1", {"slot": "0"}); non-fdirlab cookies give ("foreign", "", {})."""
    if not cookie.startswith(COOKIE_PREFIX):
        return ("foreign", "", {})
    try:
        text = cookie[len(COOKIE_PREFIX):].decode()
    except UnicodeDecodeError:
        return ("foreign", "", {})
    kind, _, rest = text.partition(":")
    subject, *attrs = rest.split(";") if rest else ("",)
    out: dict[str, str] = {}
    for a in attrs:
        k, _, v = a.partition("=")
        out[k] = v
    return (kind, subject, out)


@dataclass(frozen=True)
class Match:
    """One key field: exact when mask is None, ternary (value, mask) otherwise."""

    field: str
    value: int
    mask: int | None = None

    def __str__(self) -> str:
        if self.mask is None:
            return f"{self.field}={self.value:#x}"
        return f"{self.field}={self.value:#x}&&&{self.mask:#x}"


# (table, match, priority, default): what identifies an entry on the switch
EntryKey = tuple[str, tuple[Match, ...], int, bool]
# (action, params, cookie): what an entry does
EntryValue = tuple[str, tuple[tuple[str, int], ...], bytes]


@dataclass(frozen=True)
class Entry:
    """A table entry in short names (table "fdir_v4", field "dst_addr", action "steer")."""

    table: str
    match: tuple[Match, ...]
    action: str
    params: tuple[tuple[str, int], ...] = ()
    priority: int = 0
    cookie: bytes = b""
    default: bool = False                 # the table's default action, not a keyed entry
    # Counters come back with reads; they never take part in equality.
    packets: int | None = field(default=None, compare=False)
    bytes: int | None = field(default=None, compare=False)

    @property
    def key(self) -> EntryKey:
        return (self.table, self.match, self.priority, self.default)

    @property
    def value(self) -> EntryValue:
        return (self.action, self.params, self.cookie)

    def field(self, name: str) -> Match | None:
        for m in self.match:
            if m.field == name:
                return m
        return None

    def param(self, name: str) -> int | None:
        for k, v in self.params:
            if k == name:
                return v
        return None

    @property
    def owner(self) -> tuple[str, str, dict[str, str]]:
        return parse_cookie(self.cookie)

    def describe(self) -> str:
        ms = " ".join(str(m) for m in self.match) or "(default)"
        ps = ",".join(f"{k}={v}" for k, v in self.params)
        pri = f" pri={self.priority}" if self.priority else ""
        return f"{self.table} {ms}{pri} -> {self.action}({ps})"


def make_match(fields: list[tuple[str, str, int]], **values: int | tuple[int, int]) -> tuple[Match, ...]:
    """Build a canonical match from a table's key schema [(field, kind, bitwidth)]: ternary
    fields with mask 0 are left out (P4Runtime "don't care"), values are masked, and the
    order is the key order, so equal matches compare equal however they were built."""
    out = []
    for name, kind, width in fields:
        if name not in values:
            if kind == EXACT:
                raise ValueError(f"exact field {name} needs a value")
            continue
        v = values[name]
        full = (1 << width) - 1
        if kind == EXACT:
            if isinstance(v, tuple) or not 0 <= v <= full:
                raise ValueError(f"{name}={v!r} does not fit {width} bits")
            out.append(Match(name, v))
        else:
            val, mask = v if isinstance(v, tuple) else (v, full)
            if not (0 <= val <= full and 0 <= mask <= full):
                raise ValueError(f"{name}={val:#x}&&&{mask:#x} does not fit {width} bits")
            if mask == 0:
                continue
            out.append(Match(name, val & mask, mask))
    extra = set(values) - {f[0] for f in fields}
    if extra:
        raise ValueError(f"no key field {sorted(extra)[0]}")
    return tuple(out)
