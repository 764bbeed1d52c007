"""Parse an STF file (p4c's Simple Test Framework) into commands. Pure: text in, dataclasses out.

The language is the one p4c's tools/stf/stf_lexer.py and stf_parser.py accept, extended by the
BMv2 commands of backends/bmv2/bmv2stf.py (mirroring_*, mc_*, counter_*, register_*, meter_*).
One command per line, keywords case-insensitive, `#` starts a comment:

    add TABLE [PRIORITY] FIELD:VALUE[/LEN]... ACTION(PARAM:VALUE, ...) [= HANDLE]
    setdefault TABLE ACTION(PARAM:VALUE, ...)
    packet PORT HEX...                  a frame into PORT (spaces between digits are ignored)
    expect PORT [HEX-OR-*...] [$]       a frame out of PORT; `*` is a don't-care nibble,
                                        `$` at the end: no byte more than shown
    wait | remove all | no_packet | check_counter ...
    mirroring_add SESSION PORT | mirroring_add_mc SESSION GROUP | mirroring_delete SESSION
    mc_mgrp_create GROUP | mc_node_create RID PORT... | mc_node_update NODE PORT...
    mc_node_associate GROUP NODE

VALUEs are decimal, 0x hex or 0b binary; `*` digits in hex/binary are don't-care (ternary).
Names may use `$` for an index (`extra$0.h` is `extra[0].h`, as bmv2stf.py reads it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stf.errors import StfSyntaxError


@dataclass(frozen=True)
class Match:
    """One `FIELD:VALUE[/LEN]` of an `add`; value is the text as written (e.g. `0x****0101`)."""

    field: str
    value: str
    prefix_len: int | None = None


@dataclass(frozen=True)
class ActionCall:
    name: str
    args: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Add:
    line: int
    table: str
    priority: int | None
    matches: tuple[Match, ...]
    action: ActionCall
    handle: str | None = None


@dataclass(frozen=True)
class SetDefault:
    line: int
    table: str
    action: ActionCall


@dataclass(frozen=True)
class Packet:
    line: int
    port: int
    data: bytes


@dataclass(frozen=True)
class Expect:
    """pattern: upper-case hex nibbles and `*`; None: any frames (the port is not checked)."""

    line: int
    port: int
    pattern: str | None
    exact_length: bool = False


@dataclass(frozen=True)
class Wait:
    line: int


@dataclass(frozen=True)
class MirroringAdd:
    line: int
    session: int
    port: int


@dataclass(frozen=True)
class MirroringAddMc:
    line: int
    session: int
    group: int


@dataclass(frozen=True)
class MirroringDelete:
    line: int
    session: int


@dataclass(frozen=True)
class McGroupCreate:
    line: int
    group: int


@dataclass(frozen=True)
class McNodeCreate:
    """A replication node: `rid` (egress_rid of its copies) and its ports. BMv2's CLI numbers
    nodes 0, 1, 2... in creation order; mc_node_associate refers to that number."""

    line: int
    rid: int
    ports: tuple[int, ...]


@dataclass(frozen=True)
class McNodeUpdate:
    line: int
    node: int
    ports: tuple[int, ...]


@dataclass(frozen=True)
class McNodeAssociate:
    line: int
    group: int
    node: int


@dataclass(frozen=True)
class Unsupported:
    """A valid STF command this runner does not carry out (counters, registers, meters,
    `remove`, `check_counter`): the test it is in is reported as failed, naming it."""

    line: int
    keyword: str
    text: str


Command = (
    Add
    | SetDefault
    | Packet
    | Expect
    | Wait
    | MirroringAdd
    | MirroringAddMc
    | MirroringDelete
    | McGroupCreate
    | McNodeCreate
    | McNodeUpdate
    | McNodeAssociate
    | Unsupported
)

# Commands of bmv2stf.py that this runner parses but does not carry out.
_UNSUPPORTED = {
    "remove",
    "check_counter",
    "no_packet",
    "mirroring_get",
    "counter_read",
    "counter_write",
    "register_read",
    "register_write",
    "register_reset",
    "meter_get_rates",
    "meter_set_rates",
    "meter_array_set_rates",
}

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<qid>"[^"]+")
     |(?P<num>0[xX][0-9a-fA-F*]+|0[bB][01*]+|[0-9]+)
     |(?P<id>[A-Za-z_$][A-Za-z_$0-9]*)
     |(?P<punct>[:.,()\[\]/=])
    )""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"0[xX][0-9a-fA-F*]+|0[bB][01*]+|[0-9]+")
_NAME_PUNCT = (("punct", "."), ("punct", "["), ("punct", "]"))
_HEX_DATA = re.compile(r"[0-9a-fA-F]*")
_EXPECT_DATA = re.compile(r"[0-9a-fA-F*]*\$?")


class _Tokens:
    """The tokens of one line, with the lookahead the grammar needs."""

    def __init__(self, text: str, where: str) -> None:
        self.where = where
        self.items: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise StfSyntaxError(f"{where}: unexpected character {text[pos:].lstrip()[:1]!r}")
            kind = m.lastgroup or ""
            value = m.group(kind)
            if kind == "qid":
                kind, value = "id", value[1:-1]
            self.items.append((kind, value))
            pos = m.end()
        self.i = 0

    def peek(self, k: int = 0) -> tuple[str, str]:
        j = self.i + k
        return self.items[j] if j < len(self.items) else ("end", "")

    def take(self, kind: str, value: str | None = None) -> str:
        k, v = self.peek()
        if k != kind or (value is not None and v != value):
            want = value if value is not None else kind
            got = v if k != "end" else "end of line"
            raise StfSyntaxError(f"{self.where}: expected {want!r}, found {got!r}")
        self.i += 1
        return v

    def at_end(self) -> bool:
        return self.i >= len(self.items)

    def name(self) -> str:
        """qualified_name: ID ('[' N ']')? ('.' ID ('[' N ']')?)*"""
        parts = [self.take("id")]
        while True:
            k, v = self.peek()
            if (k, v) == ("punct", "["):
                self.take("punct", "[")
                idx = self.take("num")
                self.take("punct", "]")
                parts[-1] += f"[{idx}]"
            elif (k, v) == ("punct", ".") and self.peek(1)[0] == "id":
                self.take("punct", ".")
                parts.append(self.take("id"))
            else:
                return ".".join(parts)

    def action(self) -> ActionCall:
        name = self.name()
        self.take("punct", "(")
        args: list[tuple[str, str]] = []
        if self.peek() != ("punct", ")"):
            while True:
                arg = self.take("id")
                self.take("punct", ":")
                args.append((arg, self.take("num")))
                if self.peek() == ("punct", ","):
                    self.take("punct", ",")
                    continue
                break
        self.take("punct", ")")
        return ActionCall(name, tuple(args))


def _int(text: str, where: str, what: str) -> int:
    if not text.isdigit():
        raise StfSyntaxError(f"{where}: {what} must be a decimal number, not {text!r}")
    return int(text)


def _parse_add(toks: _Tokens, line: int) -> Add:
    table = toks.name()
    priority = None
    if toks.peek()[0] == "num":
        priority = _int(toks.take("num"), toks.where, "priority")
    matches: list[Match] = []
    # A match is NAME ':' ...; the action is NAME '(' ...: look past the name to tell them apart.
    while True:
        j = 0
        while toks.peek(j)[0] in ("id", "num") or toks.peek(j) in _NAME_PUNCT:
            j += 1
        if toks.peek(j) != ("punct", ":"):
            break
        field = toks.name()
        toks.take("punct", ":")
        value = toks.take("num")
        plen = None
        if toks.peek() == ("punct", "/"):
            toks.take("punct", "/")
            plen = _int(toks.take("num"), toks.where, "prefix length")
        matches.append(Match(field, value, plen))
    action = toks.action()
    handle = None
    if toks.peek() == ("punct", "="):
        toks.take("punct", "=")
        handle = toks.take("id")
    if not toks.at_end():
        raise StfSyntaxError(f"{toks.where}: unexpected {toks.peek()[1]!r} after the action")
    return Add(line, table, priority, tuple(matches), action, handle)


def _numbers(rest: str, where: str, kw: str, least: int, most: int | None) -> list[int]:
    words = rest.split()
    if len(words) < least or (most is not None and len(words) > most):
        n = str(least) if most == least else f"{least}..{most}" if most else f"at least {least}"
        raise StfSyntaxError(f"{where}: {kw} takes {n} number(s), got {rest.strip()!r}")
    out = []
    for w in words:
        if not _NUMBER.fullmatch(w) or "*" in w:
            raise StfSyntaxError(f"{where}: {kw}: {w!r} is not a number")
        out.append(int(w, 0) if not w.isdigit() else int(w))
    return out


def _parse_line(text: str, line: int, where: str) -> Command | None:
    stripped = text.split("#", 1)[0].strip()
    if not stripped:
        return None
    kw, *tail = stripped.split(None, 1)
    rest = tail[0] if tail else ""
    kw = kw.lower()
    if kw == "packet":
        words = rest.split()
        if not words:
            raise StfSyntaxError(f"{where}: packet needs a port and data")
        port = _int(words[0], where, "port")
        data = "".join(words[1:])
        if not data or not _HEX_DATA.fullmatch(data):
            raise StfSyntaxError(f"{where}: packet data must be hex digits, got {data!r}")
        if len(data) % 2:
            raise StfSyntaxError(
                f"{where}: packet data has an odd number of hex digits ({len(data)})"
            )
        return Packet(line, port, bytes.fromhex(data))
    if kw == "expect":
        words = rest.split()
        if not words:
            raise StfSyntaxError(f"{where}: expect needs a port")
        port = _int(words[0], where, "port")
        data = "".join(words[1:])
        if not data:
            return Expect(line, port, None)
        if not _EXPECT_DATA.fullmatch(data):
            raise StfSyntaxError(
                f"{where}: expect data must be hex digits, '*' and a final '$', got {data!r}"
            )
        exact = data.endswith("$")
        return Expect(line, port, data.rstrip("$").upper(), exact)
    if kw == "add":
        return _parse_add(_Tokens(rest, where), line)
    if kw == "setdefault":
        toks = _Tokens(rest, where)
        table = toks.name()
        action = toks.action()
        if not toks.at_end():
            raise StfSyntaxError(f"{where}: unexpected {toks.peek()[1]!r} after the action")
        return SetDefault(line, table, action)
    if kw == "wait":
        return Wait(line)
    if kw == "mirroring_add":
        s, p = _numbers(rest, where, kw, 2, 2)
        return MirroringAdd(line, s, p)
    if kw == "mirroring_add_mc":
        s, g = _numbers(rest, where, kw, 2, 2)
        return MirroringAddMc(line, s, g)
    if kw == "mirroring_delete":
        (s,) = _numbers(rest, where, kw, 1, 1)
        return MirroringDelete(line, s)
    if kw == "mc_mgrp_create":
        (g,) = _numbers(rest, where, kw, 1, 1)
        return McGroupCreate(line, g)
    if kw == "mc_node_create":
        rid, *ports = _numbers(rest, where, kw, 1, None)
        return McNodeCreate(line, rid, tuple(ports))
    if kw == "mc_node_update":
        node, *ports = _numbers(rest, where, kw, 1, None)
        return McNodeUpdate(line, node, tuple(ports))
    if kw == "mc_node_associate":
        g, n = _numbers(rest, where, kw, 2, 2)
        return McNodeAssociate(line, g, n)
    if kw in _UNSUPPORTED:
        return Unsupported(line, kw, stripped)
    raise StfSyntaxError(f"{where}: unknown command {kw!r}")


def parse(text: str, filename: str = "<stf>") -> list[Command]:
    """Every command of an STF text, in file order. Raises StfSyntaxError (`file:line: what`)."""
    out: list[Command] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        cmd = _parse_line(raw, n, f"{filename}:{n}")
        if cmd is not None:
            out.append(cmd)
    return out


def ports_of(commands: list[Command]) -> list[int]:
    """The STF ports a run needs devices for: those of `packet` and `expect`, as bmv2stf.py."""
    return sorted({c.port for c in commands if isinstance(c, (Packet, Expect))})
