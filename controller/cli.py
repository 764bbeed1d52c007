"""fdirctl: drive the fdirlab NIC (P4Runtime) and its lcore workers from the command line.

Every command takes --json; expected failures are one line on stderr and an exit code
from controller/errors.py (2 bad input, 3 unreachable, 4 conflict, 5 write failed ...).
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
import time
import tomllib
import traceback
from pathlib import Path
from typing import Any, Callable

from controller import dpvs_conf_cmd, export
from controller import errors as E
from controller.argcheck import check_args
from controller.entries import Entry
from controller.laddr_ops import (Ctx, add_filter, add_laddrs, del_filter, del_laddrs, init,
                                  list_laddrs)
from controller.p4names import DROP_REASONS, RETA_SIZE, P4Names
from controller.p4rt_client import P4RTClient, load_device_config, load_p4info_text, pipeline_cookie
from controller.reconcile import reconcile
from controller.rules import PROTO_NAMES, Layout, canonical_ip, hand_filter, scheme_costs
from controller import reta_ops, worker_restart
from controller.desired import wanted
from controller.doctor import WorkerView, diagnose
from controller.top import cmd_top
from controller.reconcile import apply_worker
from controller.state import interpret
from controller.workers import WorkerClient, WorkerSet, conns_on, detach_laddr, read_view
from controller.writelock import WriteLock
from fdirlab import mask_math
from fdirlab.errors import FdirlabError
from fdirlab.lab_config import (DEFAULT_GRPC_ADDR, LabConfigError, MissPolicy, default_lab,
                                load_lab, parse_lab, parse_miss_policy, parse_port_range)
from fdirlab.partition import SCHEMES

try:
    import p4src
    DEFAULT_P4INFO, DEFAULT_JSON = str(p4src.P4INFO), str(p4src.BMV2_JSON)
except ImportError:  # pragma: no cover - p4src is part of the same distribution
    DEFAULT_P4INFO = DEFAULT_JSON = ""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"fdirctl: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(E.EXIT_USAGE)


def _common(p: argparse.ArgumentParser, suppress: bool) -> None:
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    g = p.add_argument_group("switch and output")
    g.add_argument("--grpc-addr", default=d(None), help=f"P4Runtime server (default: lab file, $FDIRCTL_GRPC_ADDR, {DEFAULT_GRPC_ADDR})")
    g.add_argument("--device-id", type=int, default=d(None), help="P4Runtime device id (default: lab file or 1)")
    g.add_argument("--lab", default=d(None), help="lab file (TOML); required by reconcile, defaults for init")
    g.add_argument("--json", action="store_true", default=d(False), help="machine-readable output")
    g.add_argument("--run-dir", default=d(None), help="directory of the workers' lcore-<i>.sock (default: the lab's)")
    g.add_argument("--no-workers", action="store_true", default=d(False), help="do not talk to lcore workers")
    g.add_argument("--timeout", type=float, default=d(5.0), help="seconds to wait for the switch/workers")
    g.add_argument("--p4info", default=d(None), help="P4Info text file (default: p4src/build, else the switch's)")
    g.add_argument("--bmv2-json", default=d(None), help="compiled program to push (default: p4src/build/fdir.json)")
    g.add_argument("--batch-size", type=int, default=d(1000), help="updates per P4Runtime Write")
    g.add_argument("--debug", action="store_true", default=d(False), help="tracebacks for internal errors")
    g.add_argument("--lock-wait", type=float, default=d(60.0), metavar="SECONDS",
                   help="commands that change the switch wait this long for another writer to finish "
                        "(default 60; 0: fail at once); reads never wait")


def build_parser() -> argparse.ArgumentParser:
    codes = "; ".join(f"{k} {v}" for k, v in E.EXIT_CODES.items())
    p = _Parser(prog="fdirctl", description="Program the fdirlab NIC: flow director, RSS, local addresses.",
                epilog=f"Exit codes: {codes}. Adding a local address that is present is an error (4), "
                       "never a duplicate. State lives only on the switch (and in the lab file).")
    _common(p, suppress=False)
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def cmd(name: str, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        _common(sp, suppress=True)
        return sp

    sp = cmd("init", "push the pipeline and install lcores, port roles, RETA, L2, VIPs and the miss policy")
    sp.add_argument("--lcores", type=int, help="number of lcores (default: lab file or 4); lcore i is port i+1")
    sp.add_argument("--lcore-ports", help="explicit lcore ports, e.g. 1,2,3,4")
    sp.add_argument("--wire-ports", help="wire ports, e.g. 5,6,7,8 (default: the lab's hosts)")
    sp.add_argument("--scheme", choices=SCHEMES, help="port partition scheme (default: lab or lsb)")
    sp.add_argument("--mode", choices=("fdir", "rss", "handoff"), help="steering mode (only fdir installs filters)")
    sp.add_argument("--rss", choices=("on", "off"), help="RSS for unmatched LB traffic (off: --miss decides)")
    sp.add_argument("--miss", help="miss policy: rss, drop or lcore:N")
    sp.add_argument("--lb-mac", help="the load balancer's MAC (ARP answers)")
    sp.add_argument("--force", action="store_true", help="re-push the pipeline, dropping every entry")

    sp = cmd("laddr", "local addresses: add, del, list")
    lsub = sp.add_subparsers(dest="sub", metavar="add|del|list", parser_class=_Parser)
    lsub.required = True
    la = lsub.add_parser("add", help="install filters, then create the workers' sa_pools")
    _common(la, suppress=True)
    la.add_argument("addrs", nargs="*", metavar="ADDR")
    la.add_argument("--from-file", help="read addresses from a file, one per line")
    la.add_argument("--slot", type=int, action="append", help="slot of each address (laddr scheme); default: lowest free")
    la.add_argument("--no-attach", action="store_true",
                    help="do not attach the address to the workers' services (ipvsadm --add-laddr)")
    ld = lsub.add_parser("del", help="drop the workers' sa_pools, then remove the filters")
    _common(ld, suppress=True)
    ld.add_argument("addrs", nargs="*", metavar="ADDR")
    ld.add_argument("--from-file")
    ld.add_argument("--force", action="store_true", help="drop pools even while conns use them")
    ld.add_argument("--drain", type=float, metavar="SECONDS",
                    help="first detach the address from the services, then wait up to SECONDS "
                         "for its conns to finish before dropping pools and filters")
    ll = lsub.add_parser("list", help="local addresses read back from the switch")
    _common(ll, suppress=True)

    sp = cmd("filter", "hand-made flow-director entries (never touched by laddr or reconcile)")
    fsub = sp.add_subparsers(dest="sub", metavar="add|del|list", parser_class=_Parser)
    fsub.required = True
    for name in ("add", "del"):
        fp = fsub.add_parser(name, help=f"{name} one hand-made filter")
        _common(fp, suppress=True)
        fp.add_argument("--addr", required=True, help="destination address, optionally /prefix")
        fp.add_argument("--port", type=_int0, required=True, help="destination port value")
        fp.add_argument("--port-mask", type=_int0, default=0xFFFF, help="port mask (default 0xffff; 0 = any)")
        fp.add_argument("--proto", choices=("tcp", "udp"), required=True)
        fp.add_argument("--priority", type=int, default=mask_math.FILTER_PRIORITY)
        fp.add_argument("--table", choices=("fdir_v4", "fdir_v6"), help="check the address is of this table's family")
        if name == "add":
            tgt = fp.add_mutually_exclusive_group(required=True)
            tgt.add_argument("--lcore", type=int, help="steer to this lcore's port")
            tgt.add_argument("--to-port", type=int, help="steer to this switch port")
    fl = fsub.add_parser("list", help="hand-made filters with hit counters")
    _common(fl, suppress=True)

    sp = cmd("show", "show fdir | rss | counters | pools")
    ssub = sp.add_subparsers(dest="sub", metavar="fdir|rss|counters|pools", parser_class=_Parser)
    ssub.required = True
    sf = ssub.add_parser("fdir", help="every flow-director entry with its hit counter")
    _common(sf, suppress=True)
    sf.add_argument("--laddr", help="only this local address's entries")
    sr = ssub.add_parser("rss", help="the RETA (128 entries -> lcores) and the miss policy")
    _common(sr, suppress=True)
    sc = ssub.add_parser("counters", help="per-port rx/tx and drop reasons")
    _common(sc, suppress=True)
    sp_ = ssub.add_parser("pools", help="the workers' sa_pools: sa_used/sa_free/sa_miss per local address and lcore")
    _common(sp_, suppress=True)

    sp = cmd("status", "what the switch holds: lcores, scheme, local addresses, consistency")
    sp.add_argument("--check", action="store_true", help="exit 7 if anything is inconsistent (or drifts from --lab)")
    sp = cmd("reconcile", "make the switch and workers match the lab file, touching only what differs")
    sp.add_argument("--check", action="store_true", help="change nothing; exit 7 if anything differs")
    cmd("doctor", "every disagreement between lab file, switch and workers, and misconfigurations, each with its fix")
    sp = cmd("rss", "take an lcore out of the RETA (a dead worker) or give it back its slots")
    rsub = sp.add_subparsers(dest="sub", metavar="exclude|include", parser_class=_Parser)
    rsub.required = True
    for name, hlp in (("exclude", "spread lcore N's RETA slots over the others: RSS stops sending it new flows"),
                      ("include", "give lcore N back its standard RETA slots (slot i -> lcore i %% n)")):
        rp = rsub.add_parser(name, help=hlp)
        _common(rp, suppress=True)
        rp.add_argument("lcore", type=int, metavar="N")
    sp = cmd("worker", "lcore workers: restart a dead one in its host and restore its pools and services")
    wsub = sp.add_subparsers(dest="sub", metavar="restart", parser_class=_Parser)
    wsub.required = True
    wr = wsub.add_parser("restart", help="start lcore N's worker again from the lab's start record, then "
                                         "give it the switch's local addresses and the lab's services")
    _common(wr, suppress=True)
    wr.add_argument("lcore", type=int, metavar="N")
    wr.add_argument("--replace", action="store_true", help="restart it even if it still answers")
    cmd("stats", "per lcore: conns, packets, replies that found their conn here, misses, handoffs, pools")
    sp = cmd("top", "live per-lcore view: conns, packets/s, reply hits/misses, handoffs, sa_pool use")
    sp.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    sp.add_argument("--count", type=int, help="stop after this many refreshes (default: Ctrl-C)")
    sp = cmd("schemes", "entries and ports per lcore each partition scheme costs (no switch needed)")
    sp.add_argument("--lcores", type=int, help="default: lab file or 4")
    sp.add_argument("--laddrs", type=int, help="number of local addresses (default: lab file or 2)")
    sp.add_argument("--port-range", help="LOW-HIGH (default: lab file or 1025-65535)")
    sp = cmd("export", "the installed filters as commands for a real NIC "
                       "(queues from the lab's rx queues)")
    sp.add_argument("--format", required=True, choices=export.FORMATS)
    sp.add_argument("--dev", help="NIC name (default: the lab's nic.device, dpdk0)")
    sp.add_argument("--port-id", type=int, default=0, help="DPDK port id for rte-flow (default 0)")
    sp = cmd("dpvs-conf", "turn a DPVS dpvs.conf into a lab file (no switch needed)")
    sp.add_argument("file", help="the dpvs.conf")
    sp.add_argument("-o", "--output", help="lab file to write (default: print it)")
    sp.add_argument("--name", help="lab name (default: from the file name)")
    return p


def _int0(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _ports(text: str | None, what: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, _, b = part.partition("-")
            if not (a.isdigit() and b.isdigit()) or int(a) > int(b):
                raise E.BadInput(f"{what} {text!r}: bad range {part!r}")
            out += range(int(a), int(b) + 1)
        elif part.isdigit():
            out.append(int(part))
        else:
            raise E.BadInput(f"{what} {text!r}: {part!r} is not a port number")
    return tuple(out)


# --- context --------------------------------------------------------------------------

class Session:
    """Lazily opened switch connection + names, closed at exit."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lab = load_lab(args.lab) if args.lab else None
        sw = self.lab.switch if self.lab else None
        self.grpc_addr = args.grpc_addr or (sw.grpc_addr if sw else None) or \
            os.environ.get("FDIRCTL_GRPC_ADDR") or DEFAULT_GRPC_ADDR
        self.device_id = args.device_id if args.device_id is not None else (sw.device_id if sw else 1)
        if self.device_id < 0:
            raise E.BadInput(f"device id {self.device_id}: must be >= 0")
        self.client: P4RTClient | None = None
        self._ws: list[WorkerSet] = []
        self.lock: WriteLock | None = None

    def ctx(self, write: bool = False) -> Ctx:
        """Connect to the switch. write=True: first take the switch's writer lock (held until
        close(), so reading, validating and writing are one step no other writer interleaves
        with), then arbitrate as primary. Reads connect without arbitration."""
        a = self.args
        if write:
            if a.lock_wait < 0:
                raise E.BadInput(f"--lock-wait {a.lock_wait:g}: must be >= 0")
            what = " ".join(x for x in (a.cmd, getattr(a, "sub", None)) if x)
            self.lock = WriteLock(self.grpc_addr, self.device_id, a.lock_wait, what).acquire()
        self.client = P4RTClient(self.grpc_addr, self.device_id, timeout=a.timeout).connect(arbitrate=write)
        p4info_path = a.p4info or DEFAULT_P4INFO
        p4info = None
        if p4info_path and Path(p4info_path).exists():
            p4info = load_p4info_text(p4info_path)
        elif a.p4info:
            raise E.BadInput(f"P4Info {a.p4info!r}: no such file")
        json_path = a.bmv2_json or DEFAULT_JSON
        device_config = load_device_config(json_path) if json_path and Path(json_path).exists() else None
        if a.bmv2_json and device_config is None:
            raise E.BadInput(f"program {a.bmv2_json!r}: no such file")
        if p4info is None:   # no local build: use the program the switch runs
            p4info, _ = self.client.get_pipeline()
            if p4info is None:
                raise E.StateError(f"switch {self.grpc_addr} runs no pipeline and no P4Info file was found "
                                   f"({p4info_path}); build it with `make p4` or pass --p4info")
        names = P4Names(p4info)
        if a.batch_size < 1:
            raise E.BadInput(f"batch size {a.batch_size}: must be >= 1")
        return Ctx(self.client, names, self.workers_for, a.batch_size, p4info, device_config)

    def workers_for(self, n: int) -> WorkerSet | None:
        if self.args.no_workers:
            return None
        run_dir = self.args.run_dir or (self.lab.run_dir if self.lab else None)
        if run_dir is None:
            return None
        ws = WorkerSet.from_run_dir(run_dir, n, self.args.timeout)
        self._ws.append(ws)
        return ws

    def close(self) -> None:
        for ws in self._ws:
            ws.close()
        if self.client is not None:
            self.client.close()
        if self.lock is not None:
            self.lock.release()


# --- commands ---------------------------------------------------------------------------

Result = tuple[dict[str, Any], str, int]    # (json, text, exit code)


def cmd_init(s: Session) -> Result:
    a = s.args
    data: dict[str, Any] = {}
    if s.lab is not None:
        data = tomllib.loads(Path(a.lab).read_text())
    if a.lcores is not None:
        if a.lcores < 1 or a.lcores > mask_math.MAX_LCORES:
            raise E.BadInput(f"lcore count {a.lcores}: must be 1..{mask_math.MAX_LCORES}")
        data.setdefault("lcores", {})["count"] = a.lcores
    if a.scheme is not None:        # validated with the lab's addresses: every lcore needs ports
        data.setdefault("lab", {})["scheme"] = a.scheme
    try:
        lab = parse_lab(data, a.lab or "<defaults>") if (data or s.lab is None) else s.lab
    except LabConfigError as e:
        raise E.BadInput(str(e)) from None
    layout = Layout.from_lab(lab)
    lcore_ports = _ports(a.lcore_ports, "--lcore-ports")
    wire_ports = _ports(a.wire_ports, "--wire-ports")
    if lcore_ports is not None and a.lcores is not None and len(lcore_ports) != a.lcores:
        raise E.BadInput(f"--lcore-ports {a.lcore_ports!r}: {len(lcore_ports)} ports for --lcores {a.lcores}")
    n = len(lcore_ports) if lcore_ports is not None else layout.n_lcores
    miss = layout.miss
    if a.miss is not None:
        try:
            miss = parse_miss_policy(a.miss, n, key="--miss")
        except LabConfigError as e:
            raise E.BadInput(str(e)) from None
    if a.rss == "on":
        if a.miss is not None and miss.kind != "rss":
            raise E.BadInput(f"--rss on contradicts --miss {a.miss}")
        miss = MissPolicy("rss")
    elif a.rss == "off" and miss.kind == "rss":
        if a.miss is not None:
            raise E.BadInput(f"--rss off contradicts --miss {a.miss}")
        miss = MissPolicy("drop")
    lports = lcore_ports if lcore_ports is not None else layout.lcore_ports
    wports = wire_ports if wire_ports is not None else layout.wire_ports
    # L2: the lab's hosts that sit on a wire port, and each lcore's MAC on its port
    l2 = [(h.mac, h.port) for h in lab.hosts if h.port in wports]
    l2 += [(lab.lcore_mac(i), p) for i, p in enumerate(lports)]
    layout = Layout(lcore_ports=lports, wire_ports=wports, scheme=a.scheme or layout.scheme,
                    mode=a.mode or layout.mode, miss=miss, lb_mac=a.lb_mac or layout.lb_mac,
                    vips=layout.vips, l2=tuple(l2))
    res = init(s.ctx(write=True), layout, force=a.force)
    text = (f"initialised {s.grpc_addr}: {res['lcores']} lcores on ports {_plist(res['lcore_ports'])}, "
            f"wire ports {_plist(res['wire_ports'])}, scheme {res['scheme']}, mode {res['mode']}, "
            f"miss policy {res['miss_policy']}, {res['entries']} entries"
            + (" (pipeline pushed)" if res["pipeline_pushed"] else ""))
    return res, text, E.EXIT_OK


def _plist(ports: list[int]) -> str:
    return ",".join(map(str, ports)) or "-"


def _addr_args(a: argparse.Namespace) -> list[str]:
    addrs = list(a.addrs)
    if a.from_file:
        try:
            addrs += [ln.strip() for ln in Path(a.from_file).read_text().splitlines()
                      if ln.strip() and not ln.startswith("#")]
        except OSError as e:
            raise E.BadInput(f"--from-file {a.from_file!r}: {e.strerror}") from None
    if not addrs:
        raise E.BadInput("no local address given")
    return addrs


def cmd_laddr(s: Session) -> Result:
    a = s.args
    if a.sub == "add":
        addrs = _addr_args(a)
        ctx = s.ctx(write=True)
        res = add_laddrs(ctx, addrs, a.slot, attach=not a.no_attach)
        names = ", ".join(x["laddr"] for x in res["added"][:8]) + (" ..." if len(res["added"]) > 8 else "")
        w = f"; sa_pools created on {res['workers']} workers" if res["workers"] else ""
        if res["workers"] and not a.no_attach:
            w += f", attached to {res['attached']} worker service(s)"
        return res, f"added {len(res['added'])} local address(es) ({names}): {res['entries']} entries{w}", 0
    if a.sub == "del":
        addrs = [canonical_ip(x, "local address") for x in _addr_args(a)]
        ctx = s.ctx(write=True)
        if a.drain is not None:
            _drain(s, ctx, addrs, a.drain)
        res = del_laddrs(ctx, addrs, force=a.force)
        names = ", ".join(x["laddr"] for x in res["deleted"][:8])
        return res, f"deleted {len(res['deleted'])} local address(es) ({names}): {res['entries']} entries removed", 0
    st = s.ctx().initialised_state()
    rows = list_laddrs(st)
    text = "\n".join([f"{'slot':>4}  {'local address':<40} {'entries':>7}  state"] +
                     [f"{r['slot']:>4}  {r['laddr']:<40} {r['entries']:>7}  "
                      f"{'ok' if r['complete'] else 'INCOMPLETE: ' + '; '.join(r['problems'])}" for r in rows]) \
        if rows else "no local addresses"
    return {"laddrs": rows}, text, 0 if all(r["complete"] for r in rows) else E.EXIT_STATE


def _drain(s: Session, ctx: Ctx, addrs: list[str], seconds: float) -> None:
    """Stop new conns from binding `addrs`, then wait for the open ones to finish."""
    if seconds < 0:
        raise E.BadInput(f"--drain {seconds:g}: must be >= 0")
    st = ctx.initialised_state()
    ws = s.workers_for(st.layout.n_lcores)
    if ws is None:
        raise E.BadInput("--drain needs the workers: give --lab or --run-dir (and not --no-workers)")
    for addr in addrs:
        detach_laddr(ws, addr)
    deadline = time.monotonic() + seconds
    while True:
        left = {addr: conns_on(ws, addr) for addr in addrs}
        if not any(left.values()):
            return
        if time.monotonic() >= deadline:
            busy = ", ".join(f"{k} ({v} conns)" for k, v in left.items() if v)
            raise E.WorkerError(f"local address(es) {busy} still in use after --drain {seconds:g}s; "
                                f"they are detached from the services, nothing else changed "
                                f"(retry, or use --force)")
        time.sleep(0.5)


def _filter_entry(s: Session, ctx: Ctx, with_target: bool) -> Entry:
    a = s.args
    addr, _, plen = a.addr.partition("/")
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        raise E.BadInput(f"--addr {a.addr!r}: not an IPv4 or IPv6 address") from None
    if a.table and (a.table == "fdir_v4") != (ip.version == 4):
        raise E.BadInput(f"--addr {a.addr!r} is IPv{ip.version} but table {a.table} matches "
                         f"IPv{4 if a.table == 'fdir_v4' else 6} destinations")
    mask = None
    if plen:
        if not plen.isdigit() or int(plen) > ip.max_prefixlen:
            raise E.BadInput(f"--addr {a.addr!r}: prefix length must be 0..{ip.max_prefixlen}")
        full = (1 << ip.max_prefixlen) - 1
        mask = full ^ (full >> int(plen))
    port = 0
    if with_target:
        if a.to_port is not None:
            port = a.to_port
        else:
            st = ctx.initialised_state()
            if not 0 <= a.lcore < st.layout.n_lcores:
                raise E.BadInput(f"--lcore {a.lcore}: {st.layout.n_lcores} lcore(s) are 0..{st.layout.n_lcores - 1}")
            port = st.layout.lcore_ports[a.lcore]
    return hand_filter(str(ip), a.port, a.port_mask, a.proto, port, a.priority, mask)


def _fdir_row(e: Entry, layout: Layout | None) -> dict[str, Any]:
    dst, dport, proto = e.field("dst_addr"), e.field("l4_dport"), e.field("proto")
    fam = 4 if e.table == "fdir_v4" else 6
    width = 32 if fam == 4 else 128
    addr = str(ipaddress.ip_address(dst.value) if fam == 4 else ipaddress.IPv6Address(dst.value)) if dst else "*"
    if dst and dst.mask != (1 << width) - 1:
        m = dst.mask
        plen = bin(m).count("1")
        addr += f"/{plen}" if m == ((1 << width) - 1) ^ ((1 << (width - plen)) - 1) else f"&{m:#x}"
    port = e.param("port")
    kind, subject, _ = e.owner
    return {"table": e.table, "addr": addr, "port_value": dport.value if dport else 0,
            "port_mask": dport.mask if dport else 0, "proto": PROTO_NAMES.get(proto.value, proto.value) if proto else "*",
            "priority": e.priority, "to_port": port,
            "lcore": layout.lcore_of_port(port) if layout and port is not None else None,
            "owner": {"laddr": f"laddr {subject}", "hand": "hand-made"}.get(kind, kind),
            "packets": e.packets, "bytes": e.bytes}


def _fdir_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no flow-director entries"
    head = f"{'address':<28} {'dport':>6}/{'mask':<6} {'proto':<5} {'pri':>4} {'lcore':>5} {'port':>4} {'packets':>9} {'bytes':>11}  owner"
    lines = [head]
    for r in rows:
        lc = "-" if r["lcore"] is None else str(r["lcore"])
        lines.append(f"{r['addr']:<28} {r['port_value']:>6}/{r['port_mask']:<#6x} {r['proto']:<5} {r['priority']:>4} "
                     f"{lc:>5} {r['to_port']:>4} {r['packets'] or 0:>9} {r['bytes'] or 0:>11}  {r['owner']}")
    return "\n".join(lines)


def cmd_filter(s: Session) -> Result:
    a = s.args
    ctx = s.ctx(write=a.sub in ("add", "del"))
    if a.sub == "add":
        res = add_filter(ctx, _filter_entry(s, ctx, True))
        return res, f"added hand-made filter {res['added']}", 0
    if a.sub == "del":
        e = _filter_entry(s, ctx, False)
        res = del_filter(ctx, e)
        return res, f"deleted hand-made filter {res['deleted']}", 0
    st = ctx.state(counters=True)
    rows = [_fdir_row(e, st.layout) for e in st.hand]
    return {"filters": rows}, _fdir_table(rows) if rows else "no hand-made filters", 0


def cmd_show(s: Session) -> Result:
    a = s.args
    ctx = s.ctx()
    if a.sub == "pools":
        st = ctx.initialised_state()
        ws = s.workers_for(st.layout.n_lcores)
        if ws is None:
            raise E.BadInput("show pools needs the workers: give --lab or --run-dir (and not --no-workers)")
        rows = []
        for c in ws.clients:
            pools = c.pools().get("pools", [])
            items = pools.items() if isinstance(pools, dict) else ((p.get("laddr"), p) for p in pools)
            for laddr, p in items:
                rows.append({"lcore": c.lcore, "laddr": laddr, **{k: p.get(k) for k in ("sa_used", "sa_free", "sa_miss")}})
        lines = [f"{'lcore':>5} {'local address':<28} {'sa_used':>8} {'sa_free':>8} {'sa_miss':>8}"] + \
                [f"{r['lcore']:>5} {r['laddr']:<28} {r['sa_used']!s:>8} {r['sa_free']!s:>8} {r['sa_miss']!s:>8}"
                 for r in rows]
        return {"pools": rows}, "\n".join(lines), 0
    if a.sub == "counters":
        c = ctx.client
        rx = c.read_counter(ctx.names.counters["port_rx"])
        tx = c.read_counter(ctx.names.counters["port_tx"])
        dr = c.read_counter(ctx.names.counters["drop_reasons"])
        ports = sorted(p for p in set(rx) | set(tx) if rx.get(p, (0, 0))[0] or tx.get(p, (0, 0))[0])
        res = {"ports": [{"port": p, "rx_packets": rx.get(p, (0, 0))[0], "rx_bytes": rx.get(p, (0, 0))[1],
                          "tx_packets": tx.get(p, (0, 0))[0], "tx_bytes": tx.get(p, (0, 0))[1]} for p in ports],
               "drops": {DROP_REASONS.get(i, f"reason_{i}"): v[0] for i, v in sorted(dr.items())
                         if i in DROP_REASONS or v[0]}}
        lines = [f"{'port':>4} {'rx pkts':>10} {'tx pkts':>10}"] + \
                [f"{r['port']:>4} {r['rx_packets']:>10} {r['tx_packets']:>10}" for r in res["ports"]]
        lines.append("drops: " + ", ".join(f"{k}={v}" for k, v in res["drops"].items()))
        return res, "\n".join(lines), 0
    st = ctx.state(counters=True)
    if a.sub == "fdir":
        ents = [e for e in st.entries if e.table in ("fdir_v4", "fdir_v6")]
        if a.laddr:
            want = canonical_ip(a.laddr, "--laddr")
            ents = [e for e in ents if e.owner[0] == "laddr" and e.owner[1] == want]
        ents.sort(key=lambda e: (e.table, e.owner[0] != "laddr", e.owner[1], e.field("dst_addr").value
                                 if e.field("dst_addr") else 0, -e.priority,
                                 e.field("proto").value, e.field("l4_dport").value if e.field("l4_dport") else 0))
        rows = [_fdir_row(e, st.layout) for e in ents]
        return {"entries": rows, "count": len(rows)}, _fdir_table(rows) + f"\n{len(rows)} entries", 0
    # rss
    reta = sorted((e for e in st.entries if e.table == "reta"), key=lambda e: e.match[0].value)
    lay = st.layout
    rows = [{"idx": e.match[0].value, "port": e.param("port"),
             "lcore": lay.lcore_of_port(e.param("port")) if lay else None, "packets": e.packets} for e in reta]
    per: dict[str, dict[str, int]] = {}
    for r in rows:
        k = str(r["lcore"])
        d = per.setdefault(k, {"slots": 0, "packets": 0})
        d["slots"] += 1
        d["packets"] += r["packets"] or 0
    miss = str(lay.miss) if lay else (st.miss_default.action if st.miss_default else "unknown")
    res = {"reta": rows, "size": len(rows), "per_lcore": per, "miss_policy": miss,
           "rss": miss == "rss"}
    lines = [f"RSS {'on' if miss == 'rss' else 'off'} (miss policy: {miss}); RETA {len(rows)}/{RETA_SIZE} entries"]
    for k in sorted(per, key=lambda x: (x == "None", int(x) if x.isdigit() else 0)):
        lines.append(f"  lcore {k:>3}: {per[k]['slots']:>3} slots, {per[k]['packets']} packets")
    if rows:
        lines.append("  idx->lcore: " + " ".join(f"{r['idx']}:{r['lcore']}" for r in rows))
    return res, "\n".join(lines), 0


def _views(s: Session, n: int, full: bool = True) -> list[WorkerView]:
    ws = s.workers_for(n)
    return [] if ws is None else [read_view(c, full) for c in ws.clients]


def cmd_doctor(s: Session) -> Result:
    # judge a settled state: wait for a writer that is mid-way (its half-written address is
    # not a finding); readers that do not judge (laddr list, show) never wait
    s.lock = WriteLock(s.grpc_addr, s.device_id, s.args.lock_wait, "doctor", shared=True).acquire()
    ctx = s.ctx()
    p4info, _ = ctx.client.get_pipeline()
    st = ctx.state() if p4info is not None else interpret([])   # a restarted switch runs nothing
    views = _views(s, st.layout.n_lcores) if st.layout else []
    found = diagnose(st, views, s.lab, s.args.lab or "FILE")
    errors = [f for f in found if f.severity == "error"]
    lines = [f"{f.severity.upper():7} {f.code}: {f.message}\n        fix: {f.fix}" for f in found]
    dead = [v.lcore for v in views if not v.alive]
    lines.append(f"{len(errors)} error(s), {len(found) - len(errors)} other finding(s)"
                 + ("" if views else " (switch only: no workers)")
                 + (f"; lcores answering: {[v.lcore for v in views if v.alive]}, dead: {dead}" if dead else ""))
    return {"findings": [f.to_json() for f in found], "errors": len(errors),
            "lcores_alive": [v.lcore for v in views if v.alive], "lcores_dead": dead}, "\n".join(lines), \
        E.EXIT_STATE if errors else 0


def cmd_worker(s: Session) -> Result:
    a = s.args
    ctx = s.ctx(write=True)           # no laddr add/del may interleave with the restore
    st = ctx.initialised_state()
    n = st.layout.n_lcores
    if not 0 <= a.lcore < n:
        raise E.BadInput(f"lcore {a.lcore}: the switch has {n} lcore(s), 0..{n - 1}")
    run_dir = a.run_dir or (s.lab.run_dir if s.lab else None)
    if run_dir is None:
        raise E.BadInput("worker restart needs the lab's run directory: give --lab FILE or --run-dir")
    sock = str(Path(run_dir) / f"lcore-{a.lcore}.sock")
    rec = worker_restart.restart(run_dir, a.lcore, sock, replace=a.replace, timeout=a.timeout, lab=s.lab)
    c = WorkerClient(a.lcore, sock, a.timeout)
    try:
        done = {k: 0 for k in ("pools", "pools_removed", "services", "services_removed", "laddrs_attached",
                               "laddrs_detached", "neighs")}
        want = wanted(s.lab, {x: ls.slot for x, ls in st.laddrs.items()})
        apply_worker(c, read_view(c), want, done, services=s.lab is not None)
    finally:
        c.close()
    reta = reta_ops.apply(ctx, st, a.lcore, include=True) if not reta_ops.slots_per_lcore(st)[a.lcore] else 0
    res = {"lcore": a.lcore, "pid": rec.pid, "restored": done, "reta_slots_back": reta}
    return res, (f"lcore {a.lcore}'s worker restarted (pid {rec.pid}): {done['pools']} sa_pool(s), "
                 f"{done['services']} service(s), {done['neighs']} neighbour(s) restored"
                 + (f", {reta} RETA slots back" if reta else "")
                 + ("" if s.lab else " (no --lab: services and neighbours not restored)")), 0


def cmd_rss(s: Session) -> Result:
    a = s.args
    ctx = s.ctx(write=True)
    st = ctx.initialised_state()
    moved = reta_ops.apply(ctx, st, a.lcore, include=a.sub == "include")
    per = reta_ops.slots_per_lcore(ctx.state())
    return ({"lcore": a.lcore, "moved": moved, "slots_per_lcore": per},
            f"RETA: {moved} slot(s) {'given back to' if a.sub == 'include' else 'taken from'} lcore {a.lcore}; "
            + ", ".join(f"lcore {k}: {v}" for k, v in per.items()), 0)


def cmd_stats(s: Session) -> Result:
    ctx = s.ctx()
    st = ctx.initialised_state()
    ws = s.workers_for(st.layout.n_lcores)
    if ws is None:
        raise E.BadInput("stats needs the workers: give --lab or --run-dir (and not --no-workers)")
    rows = []
    dead: list[dict[str, Any]] = []
    for c in ws.clients:
        try:
            d = c.stats()
        except E.WorkerError as e:
            c.close()
            dead.append({"lcore": c.lcore, "error": str(e)})
            continue
        hits, misses = int(d.get("reply_hits", 0)), int(d.get("reply_misses", 0))
        ho = d.get("handoff", {})
        pools = d.get("pools", [])
        rows.append({"lcore": c.lcore, "conns": d.get("conns", {}).get("total", 0),
                     "packets_in": d.get("packets", {}).get("in", 0),
                     "packets_out": d.get("packets", {}).get("out", 0),
                     "dropped": d.get("packets", {}).get("dropped", 0),
                     "reply_hits": hits, "reply_misses": misses,
                     "affinity": round(100.0 * hits / (hits + misses), 1) if hits + misses else None,
                     "do_handoff": ho.get("do_handoff", 0), "handoff_in": ho.get("handoff_in", 0),
                     "congestion_drop": ho.get("congestion_drop", 0),
                     "sa_used": sum(int(p.get("sa_used", 0)) for p in pools),
                     "sa_miss": sum(int(p.get("sa_miss", 0)) for p in pools),
                     "no_local_port": d.get("no_local_port", 0)})
    cols = [("lcore", 5), ("conns", 6), ("packets_in", 10), ("packets_out", 11), ("dropped", 7),
            ("reply_hits", 10), ("reply_misses", 12), ("affinity", 8), ("do_handoff", 10),
            ("handoff_in", 10), ("congestion_drop", 15), ("sa_used", 7), ("sa_miss", 7)]
    lines = [" ".join(f"{name:>{w}}" for name, w in cols)]
    for r in rows:
        lines.append(" ".join(f"{('-' if r[name] is None else (str(r[name]) + '%' if name == 'affinity' else r[name]))!s:>{w}}"
                              for name, w in cols))
    hits = sum(r["reply_hits"] for r in rows)
    misses = sum(r["reply_misses"] for r in rows)
    total = {"reply_hits": hits, "reply_misses": misses,
             "affinity": round(100.0 * hits / (hits + misses), 1) if hits + misses else None}
    for d in dead:
        lines.append(f"{d['lcore']:>5} DEAD: {d['error']}")
    lines.append(f"return-path affinity: {total['affinity'] if total['affinity'] is not None else '-'}% "
                 f"({hits} replies found their conn on the lcore they reached, {misses} did not)")
    if dead:
        fl = f"fdirctl --lab {s.args.lab}" if s.args.lab else "fdirctl --lab FILE"
        lines.append(f"lcores {[d['lcore'] for d in dead]} do not answer: `{fl} worker restart N`")
    return {"lcores": rows, "dead": dead, "total": total, "mode": st.layout.mode}, "\n".join(lines), \
        E.EXIT_WORKER if dead else 0


def cmd_status(s: Session) -> Result:
    ctx = s.ctx()
    p4info, cookie = ctx.client.get_pipeline()
    ours = bool(ctx.p4info is not None and ctx.device_config is not None and
                cookie == pipeline_cookie(ctx.p4info, ctx.device_config))
    st = ctx.state()
    tables: dict[str, int] = {}
    for e in st.entries:
        tables[e.table] = tables.get(e.table, 0) + 1
    lay = st.layout
    problems = st.check()
    res: dict[str, Any] = {
        "switch": s.grpc_addr, "device_id": s.device_id,
        "read_only": True,   # status reads without arbitration: it never takes primacy
        "pipeline": "none" if p4info is None else ("fdirlab (current build)" if ours else "other/unknown build"),
        "initialised": lay is not None, "entries": len(st.entries), "tables": tables,
        "laddrs": len(st.laddrs), "hand_filters": len(st.hand), "foreign_filters": len(st.foreign),
        "problems": problems}
    if lay:
        cost = scheme_costs(lay.n_lcores, max(1, len(st.laddrs)))
        unowned = next(c.unowned_ports for c in cost if c.scheme == lay.scheme)
        res.update({"lcores": lay.n_lcores, "lcore_ports": list(lay.lcore_ports), "wire_ports": list(lay.wire_ports),
                    "scheme": lay.scheme, "mode": lay.mode, "miss_policy": str(lay.miss),
                    "mask": lay.partition.mask, "unowned_ports_per_laddr": unowned})
    drift = None
    if s.lab is not None and s.args.check:
        drift = reconcile(ctx, s.lab, check_only=True, workers=False)
        res["drift_from_lab"] = drift
    lines = [f"switch {s.grpc_addr} device {s.device_id}: pipeline {res['pipeline']}, {len(st.entries)} entries"]
    if lay:
        lines.append(f"lcores {lay.n_lcores} on ports {_plist(list(lay.lcore_ports))} (mask {lay.partition.mask:#x}), "
                     f"wire ports {_plist(list(lay.wire_ports))}, scheme {lay.scheme}, mode {lay.mode}, "
                     f"miss policy {lay.miss}")
        if unowned:
            lines.append(f"capacity lost: {unowned} local ports per local address belong to no lcore "
                         f"({lay.scheme} with {lay.n_lcores} lcores; `fdirctl schemes` compares)")
    else:
        lines.append("not initialised by fdirctl")
    lines.append(f"local addresses {len(st.laddrs)}, hand-made filters {len(st.hand)}, foreign filters {len(st.foreign)}")
    lines.append("tables: " + ", ".join(f"{k}={v}" for k, v in sorted(tables.items())))
    lines += [f"PROBLEM: {p}" for p in problems]
    if drift is not None and drift["changed"]:
        lines.append(f"DRIFT from {s.args.lab}: {drift['insert']} to insert, {drift['modify']} to modify, "
                     f"{drift['delete']} to delete")
    code = 0
    if s.args.check and (problems or lay is None or (drift is not None and (drift["changed"] or drift["blocked"]))):
        code = E.EXIT_STATE
    return res, "\n".join(lines), code


def cmd_reconcile(s: Session) -> Result:
    if s.lab is None:
        raise E.BadInput("reconcile needs --lab FILE (the desired state)")
    res = reconcile(s.ctx(write=not s.args.check), s.lab, check_only=s.args.check,
                    workers=not s.args.no_workers)
    verb = "would" if s.args.check else "did"
    text = (f"reconcile {s.grpc_addr} with {s.args.lab}: "
            + ("pipeline pushed; " if res["pipeline_pushed"] else "")
            + (f"{verb} insert {res['insert']}, modify {res['modify']}, delete {res['delete']}"
               if res["changed"] else "already in sync"))
    if res["blocked"]:
        text += "\nBLOCKED (key held by a hand-made/foreign entry): " + "; ".join(res["blocked"])
    wk = res.get("workers") or {}
    changes = {k: v for k, v in wk.items() if k != "unreachable" and v}
    if changes:
        text = text.replace("already in sync", "switch already in sync")
        text += "\nworkers: " + ", ".join(f"{k} {v}" for k, v in changes.items())
    code = E.EXIT_STATE if (s.args.check and res["changed"]) or res["blocked"] else 0
    if wk.get("unreachable"):
        text += (f"\nlcores {wk['unreachable']} do not answer: `fdirctl --lab {s.args.lab} worker restart N`, "
                 f"then reconcile again")
        code = code or E.EXIT_WORKER
    return res, text, code


def cmd_schemes(s: Session) -> Result:
    a = s.args
    lab = s.lab or default_lab()
    n = a.lcores if a.lcores is not None else lab.n_lcores
    k = a.laddrs if a.laddrs is not None else len(lab.laddrs)
    if k < 0:
        raise E.BadInput(f"--laddrs {k}: must be >= 0")
    low, high = (lab.lcores.port_low, lab.lcores.port_high)
    if a.port_range:
        try:
            low, high = parse_port_range(a.port_range, "--port-range")
        except LabConfigError as e:
            raise E.BadInput(str(e)) from None
    if n < 1 or n > mask_math.MAX_LCORES:
        raise E.BadInput(f"lcore count {n}: must be 1..{mask_math.MAX_LCORES}")
    costs = scheme_costs(n, k, low, high)
    rows = [c.to_json() for c in costs]
    lines = [f"{n} lcores, {k} local addresses, ports {low}-{high}, TCP+UDP:",
             f"{'scheme':<7} {'entries':>8} {'ports/lcore min':>16} {'max':>8} {'unowned/laddr':>14}"]
    for r in rows:
        lines.append(f"{r['scheme']:<7} {r['entries']:>8} {r['min_ports']:>16} {r['max_ports']:>8} "
                     f"{r['unowned_ports_per_laddr']:>14}")
    if n <= 16:
        for c in costs:
            lines.append(f"  {c.scheme}: " + " ".join(f"{i}:{p}" for i, p in enumerate(c.ports_per_lcore)))
    return {"schemes": rows, "lcores": n, "laddrs": k, "port_low": low, "port_high": high}, "\n".join(lines), 0


COMMANDS: dict[str, Callable[[Session], Result]] = {
    "init": cmd_init, "laddr": cmd_laddr, "filter": cmd_filter, "show": cmd_show,
    "status": cmd_status, "reconcile": cmd_reconcile, "schemes": cmd_schemes,
    "doctor": cmd_doctor, "stats": cmd_stats, "export": export.cmd_export,
    "dpvs-conf": dpvs_conf_cmd.cmd_dpvs_conf, "worker": cmd_worker, "rss": cmd_rss, "top": cmd_top}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    session = None
    try:
        check_args(args)                # every argument, before any connection
        session = Session(args)
        res, text, code = COMMANDS[args.cmd](session)
        if args.json:
            print(json.dumps({"ok": code == 0, "exit_code": code, **res}, default=str))
        elif text:
            print(text)
        return code
    except (E.ControllerError, FdirlabError) as e:
        if isinstance(e, E.ControllerError):
            err = e
        else:
            err = E.BadInput(str(e))
        if args.json:
            print(json.dumps(err.to_json(), default=str))
        print(f"fdirctl: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("fdirctl: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: one line unless --debug
        if args.debug:
            traceback.print_exc()
        print(f"fdirctl: internal error: {type(e).__name__}: {e} (rerun with --debug)", file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, "error": f"internal error: {e}", "exit_code": E.EXIT_INTERNAL}))
        return E.EXIT_INTERNAL
    finally:
        if session is not None:
            session.close()


if __name__ == "__main__":
    sys.exit(main())
