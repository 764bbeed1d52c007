"""A DPVS `dpvs.conf` turned into an fdirlab lab: the format's parser and the mapping of its
keys onto the lab model (fdirlab/lab_config.py). Pure: no I/O beyond reading the file.

The format (DPVS src/parser.c, conf/dpvs.conf.items):
  - a line whose first non-blank character is `!` or `#` is a comment; after a token, a
    token starting with `!` or `#` ends the line;
  - `<...>` is an attribute, never a value: `<init>` marks a keyword read once at start-up,
    `<16, 0-16>` in dpvs.conf.items documents default and range; both are skipped;
  - `"` is a token of its own (`stable_secret ""`); a value `"a b"` is read as set_value() does;
  - `keyword args... {` opens a block (or a `{` alone on the next line), a line starting with
    `}` closes it; `include FILE` reads other files in place (see parse);
  - a block given twice: see _merge_top; a value given twice: the last counts (a note).

What maps to what (DPVS source in brackets):
  worker_defs: `type slave` workers become the lab's lcores, ordered by `cpu_id` (sa_pool_init
      numbers the enabled slave lcores by ascending id: port_base 0, 1, 2 ...) [sa_pool.c]
  worker `port DEV { rx_queue_ids Q.. }`: lcore i's NIC queue is its first rx queue on the
      lab's device: the queue DPVS's sa_pool flow rules steer to [netif_flow.c netif_get_queue]
  netif_defs device DEV rx { queue_number, rss }: the lab's NIC `nic.device`, `nic.rss`;
      a `bonding BOND { slave DEV ... }` enslaving that device is the lab's device instead
      (DPVS workers poll the bonding), its rx/fdir from its primary (else first) slave
  device fdir { mode, pballoc, status } (DPVS <= 1.8), netif_defs fdir_mode and
      sa_pool flow_enable (DPVS >= 1.9): whether sa_pools get flow-director filters
  sa_pool pool_hash_size: `lcores.pool_hash_size`
  ipvs_defs tcp/udp timeout: the workers' conn timeouts (`[timeouts]`)
  ipvs_defs conn redirect on: DPVS's software fallback (ip_vs_redirect.c: a global hash
      out-tuple -> owner lcore and a 2048-deep ring per lcore pair, a full ring drops) is
      the lab's handoff mode with 2048-deep rings; with filters installed replies never
      need it, so it only selects the mode when there are no filters.
Everything else is listed, with its line, in one warning.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fdirlab import limits
from fdirlab.errors import FdirlabError

DPVS_REDIRECT_RING_SIZE = 2048  # DPVS ip_vs_redirect.c
DPVS_MAX_SLAVES = 64  # sa_pool.c: sa_lcore_mask is 64 bits
DPVS_MAX_QUEUES = 16  # dpvs.conf.items: queue_number <16, 0-16>
RSS_TYPES = ("all", "ip", "tcp", "udp", "sctp", "ether", "port", "tunnel")
FDIR_MODES = ("none", "signature", "perfect", "perfect_mac_vlan", "perfect_tunnel")
FDIR_PBALLOC = ("64k", "128k", "256k")
FDIR_STATUS = ("close", "matched", "always")
WORKER_TYPES = ("master", "slave", "kni")
# DPVS include/ipvs/ipvs.h IPVS_TIMEOUT_MIN/MAX (exclusive): integers 1..31535999
TIMEOUT_MIN, TIMEOUT_MAX = limits.TIMEOUT_EXCL_MIN + 1, limits.TIMEOUT_EXCL_MAX - 1
# DPVS tcp timeout keys the lab's workers have (lcore/tcp_state.py Timeouts); `last` is not one
TCP_TIMEOUTS = (
    "none",
    "established",
    "syn_sent",
    "syn_recv",
    "fin_wait",
    "time_wait",
    "close",
    "close_wait",
    "last_ack",
    "listen",
    "synack",
)
DEFAULT_DEVICE = "dpdk0"
# DPVS's block keywords by the block they stand in ("" = the top level): the keywords it
# installs with a sublevel (install_keyword + install_sublevel in netif.c, cfgfile.c, ipv4.c,
# ipv6.c, ctrl.c, ...; conf/dpvs.conf.items). DPVS reads such a keyword's block from the
# lines after it whether or not its line ends in `{` (parser.c process_stream).
DPVS_BLOCKS: dict[str, frozenset[str]] = {
    "": frozenset({"global_defs", "netif_defs", "worker_defs", "timer_defs", "neigh_defs",
                   "ipset_defs", "ipv4_defs", "ipv6_defs", "ctrl_defs", "ipvs_defs", "sa_pool"}),
    "netif_defs": frozenset({"device", "bonding"}),
    "device": frozenset({"rx", "tx", "fdir"}),  # fdir: DPVS <= 1.8
    "worker_defs": frozenset({"worker"}),
    "worker": frozenset({"port"}),
    "ipv4_defs": frozenset({"fragment"}),
    "ipv6_defs": frozenset({"route6"}),
    "route6": frozenset({"lpm"}),
    "ctrl_defs": frozenset({"lcore_msg"}),
    "ipvs_defs": frozenset({"conn", "udp", "tcp"}),
    "udp": frozenset({"timeout"}),
    "tcp": frozenset({"timeout", "synproxy"}),
    "synproxy": frozenset({"synack_options", "conn_reuse_state"}),
}


class DpvsConfError(FdirlabError, ValueError):
    """A dpvs.conf the lab cannot use: `file:line: key: value: why`."""


@dataclass(frozen=True)
class Node:
    """One keyword line: its tokens after the keyword, its line and file, whether `<init>`
    marked it, and its block's lines (None when the line opens no block)."""

    key: str
    args: tuple[str, ...]
    line: int
    init: bool = False
    children: tuple[Node, ...] | None = None
    source: str = "dpvs.conf"  # the file the line is in (an included file's own name)

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    def find(self, key: str) -> list[Node]:
        return [c for c in self.children or () if c.key == key]

    def first(self, key: str) -> Node | None:
        found = self.find(key)
        return found[0] if found else None


def tokenize(line: str) -> tuple[list[str], bool]:
    """Tokens of one line and whether an `<init>` attribute was on it (DPVS tokenize_string)."""
    tokens: list[str] = []
    init = False
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c.isspace():
            i += 1
            continue
        if c in "!#":
            break
        if c == '"':  # a token of its own; set_value() joins what stands between two
            tokens.append('"')
            i += 1
            continue
        if c == "<":
            j = line.find(">", i)
            j = n if j < 0 else j + 1
            if line[i:j].strip() == "<init>":
                init = True
            i = j
            continue
        j = i
        while j < n and not line[j].isspace() and line[j] != '"':
            j += 1
        tokens.append(line[i:j])
        i = j
    return tokens, init


def parse(text: str, source: str = "dpvs.conf", base: Path | None = None,
          _including: tuple[Path, ...] = (), _parent: str = "") -> tuple[Node, ...]:
    """The file's top-level keywords, blocks nested, as DPVS src/parser.c reads them:
      - `include FILE` (exactly two tokens, at any level: read_line/check_include) reads the
        files FILE globs to (sorted, as glob(3)), FILE relative to the folder of the file that
        names it (read_conf_file chdir()s there); their keywords stand where the include was,
        each with its own file and line. DPVS reads an included file with a process_stream of
        its own, so a block opened in one file closes in it. A pattern matching no file, an
        include of a file being read (DPVS would recurse forever) and a file that cannot be
        read are errors (DPVS skips the first silently);
      - a `{` on a line of its own (Allman style) opens the block of the keyword on the line
        before: DPVS reads a keyword's block from the lines after it whatever that line holds;
        so does a DPVS block keyword (DPVS_BLOCKS) whose line has no `{` at all;
      - unbalanced braces are errors.
    DpvsConfError `file:line: key: why`."""
    stack: list[tuple[Node | None, list[Node]]] = [(None, [])]
    pending: Node | None = None  # the keyword line just read, if it opened no block
    for lineno, raw in enumerate(text.splitlines(), 1):
        tokens, init = tokenize(raw)
        if not tokens:
            continue
        where = f"{source}:{lineno}"
        last, pending = pending, None
        parent = stack[-1][0].key if stack[-1][0] is not None else _parent
        if last is not None and tokens != ["{"] and last.key in DPVS_BLOCKS.get(parent, ()):
            stack[-1][1].pop()  # a block keyword without `{`: its block is the lines from here
            stack.append((last, []))
            parent = last.key
        if tokens[0] == "include":
            if len(tokens) != 2:
                raise DpvsConfError(f"{where}: include: {' '.join(tokens[1:]) or '(nothing)'}: "
                                    f"expected one file name or glob pattern (DPVS check_include)")
            stack[-1][1].extend(_include(tokens[1], where, base, _including, parent))
            continue
        if tokens[0] == "}":
            if len(stack) == 1:
                raise DpvsConfError(f"{where}: }}: closes no block")
            head, kids = stack.pop()
            assert head is not None
            node = Node(head.key, head.args, head.line, head.init, tuple(kids), head.source)
            stack[-1][1].append(node)
            continue
        if tokens == ["{"]:
            if last is None:
                raise DpvsConfError(f"{where}: {{: a block needs a keyword (on this line or the one before)")
            stack[-1][1].pop()  # the keyword line before: its block starts here
            stack.append((last, []))
            continue
        opens = tokens[-1] == "{"
        if opens:
            tokens = tokens[:-1]
        elif any(t == "{" for t in tokens):
            raise DpvsConfError(f"{where}: {tokens[0]}: '{{' must end the line")
        node = Node(tokens[0], tuple(tokens[1:]), lineno, init, None, source)
        if opens:
            stack.append((node, []))
        else:
            stack[-1][1].append(node)
            pending = node
    if len(stack) > 1:
        head = stack[-1][0]
        assert head is not None
        raise DpvsConfError(f"{head.where}: {head.key}: block never closed")
    return tuple(stack[0][1])


def _include(pattern: str, where: str, base: Path | None, including: tuple[Path, ...],
             parent: str) -> list[Node]:
    """The keywords of the files an `include PATTERN` line names (see parse)."""
    pat = Path(pattern)
    if not pat.is_absolute() and base is not None:
        pat = base / pat
    files = sorted(glob.glob(str(pat)))
    if not files:
        raise DpvsConfError(f"{where}: include: {pattern}: no file matches it "
                            f"(DPVS would skip it silently)")
    out: list[Node] = []
    for f in files:
        fp = Path(f)
        real = fp.resolve()
        if real in including:
            raise DpvsConfError(f"{where}: include: {pattern}: {f} includes itself "
                                f"(DPVS would recurse until it runs out of memory)")
        if fp.is_dir():
            raise DpvsConfError(f"{where}: include: {pattern}: {f} is a directory")
        try:
            text = fp.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise DpvsConfError(f"{where}: include: {f}: cannot read: "
                                f"{getattr(e, 'strerror', None) or e}") from None
        out.extend(parse(text, f, fp.parent, including + (real,), parent))
    return out


# --- mapping --------------------------------------------------------------------------


@dataclass(frozen=True)
class Worker:
    name: str
    type: str
    cpu_id: int
    rx_queues: dict[str, tuple[int, ...]]  # device -> rx queue ids
    line: int
    source: str = "dpvs.conf"


@dataclass
class DpvsLab:
    """The lab a dpvs.conf describes: `lab` is the lab-file data (parse_lab accepts it),
    `unmodelled` the keys the lab does not model, `notes` how the modelled ones mapped."""

    lab: dict[str, Any]
    workers: list[Worker]
    unmodelled: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str = "dpvs.conf"

    def warning(self) -> str | None:
        """All unmodelled keys in one line, or None."""
        if not self.unmodelled:
            return None
        groups: dict[str, list[str]] = {}
        for item in self.unmodelled:  # "path (line N)": one entry per path
            path, _, line = item.rpartition(" (line ")
            groups.setdefault(path, []).append(line.rstrip(")"))
        parts = [
            f"{p} (line{'s' if len(ls) > 1 else ''} {', '.join(ls)})" for p, ls in groups.items()
        ]
        return (
            f"{self.source}: {len(parts)} key(s) the lab does not model "
            f"(parsed, no effect): " + ", ".join(parts)
        )


class _Mapper:
    def __init__(self, source: str) -> None:
        self.source = source
        self.unmodelled: list[str] = []
        self.notes: list[str] = []

    def bad(self, node: Node, value: str, why: str) -> DpvsConfError:
        return DpvsConfError(f"{node.where}: {node.key}: {value}: {why}")

    def skip(self, node: Node, path: str) -> None:
        self.unmodelled.append(f"{path}{node.key} (line {node.line})")

    def value(self, node: Node) -> str:
        """The keyword's one value; `"..."` is read as DPVS set_value() reads it (the tokens
        between the quotes, joined by one space)."""
        if node.args and node.args[0] == '"':
            if len(node.args) < 2 or node.args[-1] != '"':
                raise self.bad(node, " ".join(node.args), 'a quoted value needs its closing "')
            return " ".join(node.args[1:-1])
        if len(node.args) != 1:
            got = " ".join(node.args) if node.args else "(nothing)"
            raise self.bad(node, got, "expected one value")
        return node.args[0]

    def integer(self, node: Node, lo: int, hi: int) -> int:
        v = self.value(node)
        if not re.fullmatch(r"\d+", v):
            raise self.bad(node, v, f"not an integer ({lo}-{hi})")
        n = int(v)
        if not lo <= n <= hi:
            raise self.bad(node, v, f"out of range {lo}-{hi}")
        return n

    def choice(self, node: Node, choices: tuple[str, ...]) -> str:
        v = self.value(node)
        if v.lower() not in choices:
            raise self.bad(node, v, f"use one of {'|'.join(choices)}")
        return v.lower()

    def on_off(self, node: Node) -> bool:
        return self.choice(node, ("on", "off")) == "on"

    def block(self, node: Node) -> tuple[Node, ...]:
        if node.children is None:
            raise self.bad(node, " ".join(node.args) or "(no block)", "expected a { ... } block")
        return node.children


def load(path: str | Path, name: str | None = None) -> DpvsLab:
    """Read a dpvs.conf and map it (DpvsConfError with file:line on any problem)."""
    p = Path(path)
    if p.is_dir():
        raise DpvsConfError(f"{p}: is a directory, not a dpvs.conf")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DpvsConfError(f"{p}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    nodes = parse(text, str(p), p.parent, (p.resolve(),))
    return map_conf(nodes, str(p), name or _lab_name(p.stem))


def _lab_name(stem: str) -> str:
    n = re.sub(r"[^A-Za-z0-9_-]", "-", stem)[:32]
    return n if n and n[0].isalpha() else f"dpvs-{n}"[:32]


# root blocks whose DPVS handler empties what earlier blocks of that name configured
# (netif.c netif_defs_handler frees the devices and bondings, worker_defs_handler the workers)
RESETTING_ROOTS = {"netif_defs": "devices and bondings", "worker_defs": "workers"}
# keys a block may give several times, each adding one (netif.c bonding_slave_handler)
REPEATABLE = ("slave", "device", "bonding", "worker", "port", "include")


def _merge_top(nodes: tuple[Node, ...]) -> dict[str, Node]:
    """Top-level blocks by name, a name given twice read as DPVS reads it: the keywords of
    every block in file order (parser.c process_stream runs each block's handlers; the roots
    ipvs_defs, sa_pool, ipv6_defs ... have no handler of their own, so nothing is reset).
    netif_defs and worker_defs given twice are errors: their handlers drop what the earlier
    block configured, so DPVS would run without it (never what the file's writer meant)."""
    top: dict[str, Node] = {}
    for n in nodes:
        if n.children is None:
            top.setdefault(n.key, n)
            continue
        first = top.get(n.key)
        if first is None:
            top[n.key] = n
            continue
        if n.key in RESETTING_ROOTS:
            raise DpvsConfError(
                f"{n.where}: {n.key}: given again (first on {first.where}): DPVS keeps only the "
                f"last {n.key} block (netif.c {n.key}_handler frees the {RESETTING_ROOTS[n.key]} "
                f"read before it), so the first block's would not run: write one {n.key} block")
        top[n.key] = Node(first.key, first.args, first.line, first.init,
                          (first.children or ()) + n.children, first.source)
    return top


def _note_repeats(m: _Mapper, node: Node, path: str) -> None:
    """A note for every value key given twice in one block: DPVS's handler runs for each, so
    the last one counts (nothing is dropped silently)."""
    seen: dict[str, list[Node]] = {}
    for c in node.children or ():
        if c.children is None and c.key not in REPEATABLE:
            seen.setdefault(c.key, []).append(c)
        elif c.children is not None:
            _note_repeats(m, c, f"{path}{c.key}{' ' + c.args[0] if c.args else ''}.")
    for key, ns in seen.items():
        if len(ns) > 1:
            m.notes.append(f"{path}{key} given {len(ns)} times ({', '.join(x.where for x in ns)}): "
                           f"the last one counts, as in DPVS")


def map_conf(nodes: tuple[Node, ...], source: str = "dpvs.conf", name: str = "dpvs") -> DpvsLab:
    """Map parsed keywords onto the lab-file data; see the module docstring for the table."""
    m = _Mapper(source)
    top = _merge_top(nodes)
    for n in nodes:
        if n.key not in ("netif_defs", "worker_defs", "ipvs_defs", "sa_pool", "ipv6_defs"):
            m.skip(n, "")
    for n in top.values():
        _note_repeats(m, n, f"{n.key}.")

    # --- NIC ------------------------------------------------------------------------
    device, rss, rx_qn = DEFAULT_DEVICE, "all", None
    fdir_mode, pballoc, status = "perfect", "64k", "matched"
    other_devices: list[str] = []
    bond_slaves: dict[str, list[str]] = {}  # the lab device's bonding: bond -> its slaves
    netif = top.get("netif_defs")
    if netif is not None:
        items = m.block(netif)
        devices: dict[str, Node] = {}
        bonds: dict[str, tuple[Node, list[str], str | None]] = {}
        for d in items:
            if d.key not in ("device", "bonding"):
                continue
            if len(d.args) != 1:
                raise m.bad(d, " ".join(d.args) or "(nothing)", f"expected one {d.key} name")
            dname = d.args[0]
            first = devices.get(dname) or (bonds[dname][0] if dname in bonds else None)
            if first is not None:
                raise m.bad(d, dname, f"given again (first on {first.where}): DPVS keeps one config "
                                      f"per name (netif.c looks it up by name), write one block")
            if d.key == "device":
                devices[dname] = d
                continue
            slaves, primary = [], None
            for b in m.block(d):
                if b.key == "slave":
                    sv = m.value(b)
                    if sv not in devices:
                        raise m.bad(b, sv, f"not a device of netif_defs (bonding {dname}'s slaves "
                                           f"are devices given before it)")
                    if sv in slaves or any(sv in sl for _, sl, _ in bonds.values()):
                        raise m.bad(b, sv, "already a bonding slave")
                    slaves.append(sv)
                elif b.key == "primary":
                    primary = m.value(b)
                else:
                    m.skip(b, f"netif_defs.bonding {dname}.")
            if not slaves:
                raise m.bad(d, dname, "a bonding without `slave DEV` lines")
            if primary is not None and primary not in slaves:
                raise m.bad(d, dname, f"primary {primary} is not one of its slaves {', '.join(slaves)}")
            bonds[dname] = (d, slaves, primary)
        bond_of = {sv: bn for bn, (_, sl, _) in bonds.items() for sv in sl}
        # the lab's one device: the first of netif_defs, or the bonding that enslaves it
        order: list[str] = []
        for d in items:
            if d.key in ("device", "bonding"):
                cand = bond_of.get(d.args[0], d.args[0])
                if cand not in order:
                    order.append(cand)
        if order:
            device, other_devices = order[0], order[1:]
        rx_dev = device
        if device in bonds:
            bnode, slaves, primary = bonds[device]
            rx_dev = primary or slaves[0]
            bond_slaves[device] = slaves
            m.unmodelled.append(
                f"netif_defs.bonding {device} (the lab's NIC device: its slaves {', '.join(slaves)} are "
                f"one device, queues and filters of {rx_dev}) (line {bnode.line})")
        if not re.fullmatch(rf"[A-Za-z0-9_.:-]{{1,{limits.MAX_IFNAME}}}", device):
            dn = devices.get(device) or bonds[device][0]
            raise m.bad(dn, device, f"the lab names its NIC device after it: use at most "
                                    f"{limits.MAX_IFNAME} of A-Z a-z 0-9 _ . : -")
        for d in items:
            if d.key == "fdir_mode":
                fdir_mode = m.choice(d, ("perfect", "signature"))
            elif d.key == "bonding" and d.args[0] != device:
                m.skip(d, "netif_defs.")
            elif d.key == "device" and d.args[0] != rx_dev:
                m.skip(d, "netif_defs.")
            elif d.key not in ("device", "bonding"):
                m.skip(d, "netif_defs.")
        for d in items:
            if d.key != "device" or d.args[0] != rx_dev:
                continue
            for item in m.block(d):
                path = f"netif_defs.device {rx_dev}."
                if item.key == "rx":
                    for r in m.block(item):
                        if r.key == "queue_number":
                            rx_qn = (r, m.integer(r, 0, DPVS_MAX_QUEUES))
                        elif r.key == "rss":
                            rss = m.choice(r, RSS_TYPES)
                        else:
                            m.skip(r, path + "rx.")
                elif item.key == "fdir":
                    for f in m.block(item):
                        if f.key == "mode":
                            fdir_mode = m.choice(f, FDIR_MODES)
                        elif f.key == "pballoc":
                            pballoc = m.choice(f, FDIR_PBALLOC)
                        elif f.key == "status":
                            status = m.choice(f, FDIR_STATUS)
                        else:
                            m.skip(f, path + "fdir.")
                else:
                    m.skip(item, path)
    if rss != "all":
        m.notes.append(f"rss {rss}: the lab's NIC hashes the 5-tuple (crc32) for every rss type")
    if status != "matched":
        m.notes.append(
            f"fdir status {status}: reporting the match in the mbuf has no effect in the lab"
        )

    # --- workers ----------------------------------------------------------------------
    wdefs = top.get("worker_defs")
    if wdefs is None:
        raise DpvsConfError(
            f"{source}: worker_defs: missing: the lab needs at least one slave worker"
        )
    workers: list[Worker] = []
    seen_cpu: dict[int, Node] = {}
    for w in m.block(wdefs):
        if w.key != "worker":
            m.skip(w, "worker_defs.")
            continue
        wname = w.args[0] if w.args else f"line{w.line}"
        wtype, cpu, cpu_node, queues = "slave", None, None, {}
        ports: dict[str, Node] = {}
        for item in m.block(w):
            if item.key == "type":
                wtype = m.choice(item, WORKER_TYPES)
            elif item.key == "cpu_id":  # given twice: the last counts (DPVS cpu_id_handler)
                cpu, cpu_node = m.integer(item, 0, 1023), item
            elif item.key == "port":
                if len(item.args) != 1:
                    raise m.bad(
                        item, " ".join(item.args) or "(nothing)", "expected one device name"
                    )
                if item.args[0] in ports:
                    raise m.bad(item, item.args[0], f"given again in worker {wname} (first on "
                                                    f"{ports[item.args[0]].where}): give its queue ids in one block")
                ports[item.args[0]] = item
                for q in m.block(item):
                    if q.key == "rx_queue_ids":
                        ids = []
                        for t in q.args:
                            if not re.fullmatch(r"\d+", t) or int(t) >= DPVS_MAX_QUEUES:
                                raise m.bad(
                                    q,
                                    " ".join(q.args),
                                    f"queue id {t!r} is not 0-{DPVS_MAX_QUEUES - 1}",
                                )
                            ids.append(int(t))
                        if not ids:
                            raise m.bad(q, "(nothing)", "expected queue ids")
                        queues[item.args[0]] = (tuple(ids), q)
                    else:
                        m.skip(q, f"worker_defs.worker *.port {item.args[0]}.")
            else:
                m.skip(item, "worker_defs.worker *.")
        if cpu is None or cpu_node is None:
            raise m.bad(w, wname, "worker without cpu_id")
        if cpu in seen_cpu:
            raise m.bad(cpu_node, str(cpu), f"cpu id already used by the worker on {seen_cpu[cpu].where}")
        seen_cpu[cpu] = cpu_node
        if wtype != "slave":
            if wtype == "kni" or queues:
                m.skip(w, "worker_defs.")
            continue
        if device not in queues:
            why = f"slave worker has no `port {device} {{ rx_queue_ids ... }}`"
            enslaved = [d for d in queues if d in bond_slaves.get(device, ())]
            if enslaved:
                why += (f": port {', '.join(enslaved)} {'is a slave' if len(enslaved) == 1 else 'are slaves'} "
                        f"of bonding {device}, the lab's one device (DPVS's bonding samples give "
                        f"workers `port {device}`)")
            raise m.bad(w, wname, why)
        workers.append(
            Worker(wname, wtype, cpu, {d: ids for d, (ids, _) in queues.items()}, w.line, w.source)
        )
        for dev_name in queues:
            if dev_name != device and dev_name not in other_devices:
                other_devices.append(dev_name)
        q_node = queues[device][1]
        used = {qid: wk.name for wk in workers[:-1] for qid in wk.rx_queues.get(device, ())}
        for qid in workers[-1].rx_queues[device]:
            if qid in used:
                raise m.bad(
                    q_node,
                    " ".join(q_node.args),
                    f"rx queue {qid} of {device} is already worker {used[qid]}'s",
                )
    if not workers:
        raise DpvsConfError(
            f"{wdefs.where}: worker_defs: no slave worker (type slave): "
            f"the lab needs at least one"
        )
    if len(workers) > DPVS_MAX_SLAVES:
        raise DpvsConfError(
            f"{workers[DPVS_MAX_SLAVES].source}:{workers[DPVS_MAX_SLAVES].line}: worker: "
            f"{workers[DPVS_MAX_SLAVES].name}: DPVS supports at most {DPVS_MAX_SLAVES} "
            f"slave workers"
        )
    workers.sort(key=lambda wk: wk.cpu_id)
    all_q = sorted(q for wk in workers for q in wk.rx_queues[device])
    if rx_qn is not None:
        node, qn = rx_qn
        if all_q and all_q[-1] >= qn:
            raise m.bad(node, str(qn), f"the slave workers use rx queue {all_q[-1]} of {device}")
    if all_q != list(range(len(all_q))):
        m.notes.append(
            f"rx queues of {device} {all_q} do not start at 0 or are not continuous "
            f"(DPVS requires both)"
        )
    multi = [wk.name for wk in workers if len(wk.rx_queues[device]) > 1]
    if multi:
        m.notes.append(
            f"workers {', '.join(multi)} have several rx queues: each lcore gets one NIC "
            f"port in the lab, filters steer to the first queue (DPVS netif_get_queue)"
        )
    if other_devices:
        m.notes.append(
            f"the lab is one-armed: devices {', '.join(other_devices)} are not modelled, "
            f"only {device}"
        )

    # --- sa_pool ----------------------------------------------------------------------
    pool_hash, flow_enable = limits.DEFAULT_POOL_HASH_SIZE, True
    sa = top.get("sa_pool")
    if sa is not None:
        for item in m.block(sa):
            if item.key == "pool_hash_size":
                pool_hash = m.integer(item, limits.MIN_POOL_HASH_SIZE, limits.MAX_POOL_HASH_SIZE)
            elif item.key == "flow_enable":
                flow_enable = m.on_off(item)
            else:
                m.skip(item, "sa_pool.")

    # --- ipvs -------------------------------------------------------------------------
    redirect, timeouts = False, {}
    ipvs = top.get("ipvs_defs")
    if ipvs is not None:
        for sec in m.block(ipvs):
            if sec.key == "conn":
                for item in m.block(sec):
                    if item.key == "redirect":
                        redirect = m.on_off(item)
                    elif item.key == "conn_init_timeout":
                        init_t = m.integer(item, TIMEOUT_MIN, TIMEOUT_MAX)
                        m.notes.append(
                            f"conn_init_timeout {init_t}: a new conn's timer until its first "
                            f"state change; the workers change state in the step that "
                            f"creates the conn (as DPVS dp_vs_in does), so it never fires"
                        )
                    else:
                        m.skip(item, "ipvs_defs.conn.")
            elif sec.key in ("tcp", "udp"):
                for item in m.block(sec):
                    if item.key != "timeout":
                        m.skip(item, f"ipvs_defs.{sec.key}.")
                        continue
                    for tn in m.block(item):
                        secs = m.integer(tn, TIMEOUT_MIN, TIMEOUT_MAX)
                        if sec.key == "tcp" and tn.key in TCP_TIMEOUTS:
                            timeouts[tn.key] = secs
                        elif sec.key == "udp" and tn.key == "normal":
                            timeouts["udp"] = secs
                        else:
                            m.skip(tn, f"ipvs_defs.{sec.key}.timeout.")
            else:
                m.skip(sec, "ipvs_defs.")

    ipv6 = True
    v6 = top.get("ipv6_defs")
    if v6 is not None:
        for item in m.block(v6):
            if item.key == "disable":
                ipv6 = not m.on_off(item)
            else:
                m.skip(item, "ipv6_defs.")

    filters = flow_enable and fdir_mode != "none"
    if filters:
        steering = "fdir"
        if redirect:
            m.notes.append(
                "redirect on: flow-director filters bring every reply to its lcore, so "
                "the redirect rings would stay empty; the lab runs fdir"
            )
    elif redirect:
        steering = "handoff"
        m.notes.append(
            f"redirect on without filters: DPVS's redirect (global conn lookup, "
            f"{DPVS_REDIRECT_RING_SIZE}-deep ring per lcore pair) = the lab's handoff mode "
            f"with {DPVS_REDIRECT_RING_SIZE}-deep rings"
        )
    else:
        steering = "rss"
        m.notes.append(
            "no flow-director filters and redirect off: replies land where RSS puts them "
            "(the failure DPVS users see on NICs without fdir)"
        )

    lab: dict[str, Any] = {
        "lab": {
            "name": name,
            "steering": steering,
            "scheme": "lsb",
            "rs_listen": ["tcp:80", "tcp:8080", "udp:53", "udp:5353"],
        },
        "lcores": {
            "count": len(workers),
            "pool_hash_size": pool_hash,
            "rx_queues": [wk.rx_queues[device][0] for wk in workers],
        },
        "nic": {
            "device": device,
            "rss": rss,
            "fdir_mode": fdir_mode if filters else "none",
            "fdir_pballoc": pballoc,
            "fdir_status": status,
        },
        "laddrs": {"addrs": []},
        "services": [],
    }
    if steering == "handoff":
        lab["lcores"]["handoff_depth"] = DPVS_REDIRECT_RING_SIZE
    if timeouts:
        lab["timeouts"] = timeouts
    if not ipv6:
        lab["clients"] = [{"ip6": ""}, {"ip6": ""}]
        lab["servers"] = [{"ip6": ""}, {"ip6": ""}]
        m.notes.append("ipv6_defs disable on: the lab's hosts get no IPv6 addresses")
    m.notes.insert(
        0,
        "lcores: "
        + ", ".join(
            f"{i}={wk.name}(cpu {wk.cpu_id}, rx queue {wk.rx_queues[device][0]})"
            for i, wk in enumerate(workers)
        ),
    )
    return DpvsLab(lab, workers, m.unmodelled, m.notes, source)
