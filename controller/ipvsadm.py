"""DPVS's ipvsadm for the lab: the same options, the same output layout
(DPVS tools/ipvsadm/ipvsadm.c print_title/print_service_entry/list_laddrs), mapped onto
the lcore workers and, for local addresses, onto fdirctl's all-or-nothing `laddr add/del`.

  ipvsadm -A|-E -t|-u VIP:PORT [-s rr|wrr|wlc]      every worker: svc_add / svc_edit (no -s: wlc)
  ipvsadm -D -t|-u VIP:PORT                          every worker: service_del
  ipvsadm -C                                         every worker: every service deleted
  ipvsadm -a|-e -t|-u VIP:PORT -r RS[:PORT] -b [-w W]   every worker: dest_add / dest_edit (no -w: 1)
  ipvsadm -d -t|-u VIP:PORT -r RS[:PORT]             every worker: dest_del
  ipvsadm --add-laddr|-P -z LIP -t|-u VIP:PORT -F IFACE
        like DPVS's libipvs dpvs_add_laddr: the address joins the device with sapool
        (fdirctl laddr add: filters, then every worker's sa_pool) unless it is there,
        then every worker's service binds new conns from it; a failure undoes both
  ipvsadm --del-laddr|-Q -z LIP -t|-u VIP:PORT [-F IFACE]
        every worker's service stops binding it; the address (filters and pools) goes too
        when no service uses it and no conn holds it, else it stays until `dpip addr del`
  ipvsadm -G|--get-laddr [-t|-u VIP:PORT]            local addresses per service, conns
  ipvsadm -L|-l [-n] [--stats|--rate] [-t|-u VIP:PORT]   counters summed over the workers; a dead
        worker: the others' sum, its lcore named on stderr, exit 6 (as fdirctl stats)
  ipvsadm -Z [-t|-u VIP:PORT]                        zero the counters

Defaults as DPVS's ipvsadm.c: -s wlc, -w 1. Only full-NAT is modelled: -g, -m and -i are
refused, and so is -a/-e without -b (DPVS's default forwarding is direct routing). `--lab FILE` (or $FDIRLAB_LAB) names
the lab. Exit codes are fdirctl's (2 bad input, 4 conflict, 6 worker refused ...).
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from controller import errors as E
from controller import shellcmd
from controller.dpvs_session import (
    addr_port,
    lab_ctx,
    lab_path,
    on_all_workers,
    open_session,
    run_locked,
    split_addr_port,
    tool_main,
    workers,
)
from controller.undo import Undo
from controller.workers import WorkerRefused, WorkerSet
from fdirlab.limits import MAX_WEIGHT, SCHEDULERS
from fdirlab.real_server import real_server_problem

VERSION = "1.9.2"  # the DPVS ipvsadm layout this follows (IP_VS_VERSION_CODE)
DEF_SCHED = "wlc"  # DPVS ipvsadm DEF_SCHED: -A and -E without -s
DEF_WEIGHT = 1     # DPVS ipvsadm process_options: -a and -e without -w

COMMANDS = {
    "A": "add-service",
    "E": "edit-service",
    "D": "delete-service",
    "C": "clear",
    "a": "add-server",
    "e": "edit-server",
    "d": "delete-server",
    "L": "list",
    "l": "list",
    "Z": "zero",
    "P": "add-laddr",
    "Q": "del-laddr",
    "G": "get-laddr",
}
WITH_ARG = {
    "t": "tcp-service",
    "u": "udp-service",
    "s": "scheduler",
    "r": "real-server",
    "w": "weight",
    "z": "laddr",
    "F": "ifname",
}
FLAGS = {"b": "fullnat", "g": "gatewaying", "m": "masquerading", "i": "ipip", "n": "numeric"}
LONG_FLAGS = {"stats", "rate", "exact"}


# DPVS ipvsadm.c commands_v_options, for the options the lab models: what each command takes
# (anything else is "illegal" there; here too, rather than silently ignored). "svc" is -t/-u,
# "fwd" the forwarding method (-b; -g/-m/-i are refused as not modelled).
TAKES = {
    "add-service": {"svc", "scheduler"}, "edit-service": {"svc", "scheduler"}, "delete-service": {"svc"},
    "clear": set(), "list": {"svc", "numeric", "stats", "rate", "exact"}, "zero": {"svc"},
    "add-server": {"svc", "real-server", "fwd", "weight"}, "edit-server": {"svc", "real-server", "fwd", "weight"},
    "delete-server": {"svc", "real-server"}, "add-laddr": {"svc", "laddr", "ifname"},
    "del-laddr": {"svc", "laddr", "ifname"}, "get-laddr": {"svc"},
}
_OPTION_NAMES = {"svc": "-t/-u", "scheduler": "-s", "real-server": "-r", "fwd": "-b", "weight": "-w",
                 "laddr": "-z", "ifname": "-F", "numeric": "-n", "stats": "--stats", "rate": "--rate",
                 "exact": "--exact"}


def _check_takes(cmd: Cmd) -> None:
    given = {"svc" if k in ("tcp-service", "udp-service") else k for k in cmd.opts}
    given |= {"fwd" if f in ("fullnat", "gatewaying", "masquerading", "ipip") else f for f in cmd.flags}
    bad = sorted(given - TAKES.get(cmd.command, given))
    if bad:
        raise E.BadInput(f"ipvsadm: illegal option {_OPTION_NAMES.get(bad[0], bad[0])} with --{cmd.command} "
                         "(DPVS ipvsadm refuses it too)")


@dataclass
class Cmd:
    command: str = ""
    opts: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    lab: str | None = None

    @property
    def service(self) -> tuple[str, str, int] | None:
        """(proto, vip, vport) from -t/-u."""
        for letter, proto in (("tcp-service", "tcp"), ("udp-service", "udp")):
            if letter in self.opts:
                vip, port = split_addr_port(self.opts[letter], f"-{letter[0]}")
                return proto, vip, port
        return None


def parse_argv(argv: list[str]) -> Cmd:
    """ipvsadm's command line (short options may be combined: -ln, -Ln)."""
    cmd = Cmd()
    long_names = {v: k for k, v in {**COMMANDS, **WITH_ARG, **FLAGS}.items()}
    i = 0

    def set_command(name: str) -> None:
        if cmd.command and cmd.command != name:
            raise E.BadInput(f"ipvsadm: --{cmd.command} and --{name} cannot go together")
        cmd.command = name

    def set_opt(name: str, value: str) -> None:
        if name in cmd.opts:
            raise E.BadInput(f"ipvsadm: --{name} given twice")
        if name in ("tcp-service", "udp-service") and (
            {"tcp-service", "udp-service"} & cmd.opts.keys()
        ):
            raise E.BadInput("ipvsadm: give one of -t and -u")
        cmd.opts[name] = value

    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--lab" or a.startswith("--lab="):
            if "=" in a:
                cmd.lab = a.split("=", 1)[1]
            elif i < len(argv):
                cmd.lab, i = argv[i], i + 1
            else:
                raise E.BadInput("ipvsadm: --lab needs a file")
        elif a.startswith("--"):
            name, eq, val = a[2:].partition("=")
            if name in LONG_FLAGS:
                cmd.flags.add(name)
            elif name in FLAGS.values():
                cmd.flags.add(name)
            elif name in COMMANDS.values():
                set_command(name)
            elif name in WITH_ARG.values():
                if not eq:
                    if i >= len(argv):
                        raise E.BadInput(f"ipvsadm: --{name} needs a value")
                    val, i = argv[i], i + 1
                set_opt(name, val)
            elif name in long_names:
                set_command(name)
            else:
                raise E.BadInput(f"ipvsadm: unknown option {a!r}")
        elif a.startswith("-") and len(a) > 1:
            k = 1
            while k < len(a):
                ch = a[k]
                k += 1
                if ch in COMMANDS:
                    set_command(COMMANDS[ch])
                elif ch in FLAGS:
                    cmd.flags.add(FLAGS[ch])
                elif ch in WITH_ARG:
                    if k < len(a):
                        val, k = a[k:], len(a)
                    elif i < len(argv):
                        val, i = argv[i], i + 1
                    else:
                        raise E.BadInput(f"ipvsadm: -{ch} needs a value")
                    set_opt(WITH_ARG[ch], val)
                else:
                    raise E.BadInput(
                        f"ipvsadm: unknown option -{ch} (the lab models: "
                        f"-A -E -D -C -a -e -d -L -Z -G --add-laddr --del-laddr)"
                    )
        else:
            raise E.BadInput(f"ipvsadm: unexpected argument {a!r}")
    if not cmd.command:
        cmd.command = "list"
    for bad in ("gatewaying", "masquerading", "ipip"):
        if bad in cmd.flags:
            raise E.BadInput(f"ipvsadm: --{bad}: the lab models full-NAT only (-b)")
    _check_takes(cmd)
    if cmd.command in ("add-server", "edit-server") and "fullnat" not in cmd.flags:
        # DPVS ipvsadm.c process_options: the forwarding method defaults to DR (IP_VS_CONN_F_DROUTE)
        raise E.BadInput(f"ipvsadm: --{cmd.command} without a forwarding method is direct routing (-g) "
                         "in DPVS; the lab models full-NAT only: add -b")
    return cmd


# --- output (pure) ---------------------------------------------------------------------


def largenum(i: int, exact: bool = False) -> str:
    """DPVS ipvsadm print_largenum."""
    if exact:
        s = str(i)
        return f"{i:>{9 if len(s) <= 8 else len(s) + 1}}"
    if i < 100_000_000:
        return f"{i:9d}"
    if i < 1_000_000_000:
        return f"{i // 1000:8d}K"
    if i < 100_000_000_000:
        return f"{i // 1_000_000:8d}M"
    if i < 100_000_000_000_000:
        return f"{i // 1_000_000_000:8d}G"
    return f"{i // 1_000_000_000_000:8d}T"


def merge(answers: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Services as the workers report them, counters summed (DPVS sums per-lcore stats);
    sorted by protocol, address, port like ipvsadm's dpvs_sort_services."""
    out: dict[tuple[str, str, int], dict[str, Any]] = {}
    for svcs in answers:
        for s in svcs:
            key = (s["proto"], s["vip"], s["vport"])
            m = out.setdefault(key, {**s, "dests": {}, "laddrs": {}})
            for d in s["dests"]:
                md = m["dests"].setdefault(
                    (d["addr"], d["port"]), {**d, **{k: 0 for k in _COUNTERS}}
                )
                for k in _COUNTERS:
                    md[k] += d[k]
            for la in s["laddrs"]:
                m["laddrs"][la["addr"]] = m["laddrs"].get(la["addr"], 0) + la["conns"]
    res = []
    for key in sorted(out, key=lambda k: (k[0], _addr_key(k[1]), k[2])):
        m = out[key]
        m["dests"] = [
            m["dests"][k] for k in sorted(m["dests"], key=lambda k: (_addr_key(k[0]), k[1]))
        ]
        m["laddrs"] = [{"addr": a, "conns": n} for a, n in m["laddrs"].items()]
        res.append(m)
    return res


_COUNTERS = ("activeconns", "inactconns", "conns", "inpkts", "outpkts", "inbytes", "outbytes")


def _addr_key(a: str) -> tuple[int, int]:
    import ipaddress

    ip = ipaddress.ip_address(a)
    return ip.version, int(ip)


def _svc_name(s: dict[str, Any]) -> str:
    name = f"{s['proto'].upper()}  {addr_port(s['vip'], s['vport'])}"
    return name if ":" in s["vip"] else name[:33]


def format_list(
    services: list[dict[str, Any]],
    mode: str = "",
    exact: bool = False,
    rates: list[dict[str, Any]] | None = None,
) -> str:
    """`ipvsadm -L -n` (mode ""), `--stats` or `--rate` (counters per second in `rates`)."""
    lines = [f"IP Virtual Server version {VERSION} (size=0)"]
    if mode == "stats":
        lines.append(
            f"{'Prot LocalAddress:Port':<33} {'Conns':>8} {'InPkts':>8} {'OutPkts':>8} "
            f"{'InBytes':>8} {'OutBytes':>8}\n  -> RemoteAddress:Port"
        )
    elif mode == "rate":
        lines.append(
            f"{'Prot LocalAddress:Port':<33} {'CPS':>8} {'InPPS':>8} {'OutPPS':>8} "
            f"{'InBPS':>8} {'OutBPS':>8}\n  -> RemoteAddress:Port"
        )
    else:
        lines.append(
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"
        )
    rate_by = {(r["proto"], r["vip"], r["vport"]): r for r in rates or []}
    for s in services:
        name = _svc_name(s)
        src = rate_by.get((s["proto"], s["vip"], s["vport"]), s) if mode == "rate" else s
        dests = src["dests"] if mode == "rate" else s["dests"]
        if mode in ("stats", "rate"):
            tot = {k: sum(d[k] for d in dests) for k in _COUNTERS}  # copy_stats_from_dest
            lines.append(
                f"{name:<33}"
                + "".join(
                    largenum(tot[k], exact)
                    for k in ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
                )
            )
        else:
            lines.append(f"{name} {s['sched']}")
        for d in dests:
            dname = addr_port(d["addr"], d["port"])
            dname = dname if ":" in d["addr"] else dname[:28]
            if mode == "stats":
                lines.append(
                    f"  -> {dname:<28}"
                    + "".join(
                        largenum(d[k], exact)
                        for k in ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
                    )
                )
            elif mode == "rate":
                lines.append(
                    f"  -> {dname:<28} {d['conns']:8d} {d['inpkts']:8d} {d['outpkts']:8d}"
                    + largenum(d["inbytes"], exact)
                    + largenum(d["outbytes"], exact)
                )
            else:
                lines.append(
                    f"  -> {dname:<28} {'FullNat':<7} {d['weight']:<6} "
                    f"{d['activeconns']:<10} {d['inactconns']:<10}"
                )
    return "\n".join(lines)


def format_laddrs(services: list[dict[str, Any]]) -> str:
    """`ipvsadm -G` (DPVS list_laddrs_print_*: CONFLICTS is 0 there too, a TODO in DPVS)."""
    lines = [f"{'VIP:VPORT':<20} {'TOTAL':<8} {'SNAT_IP':<20} {'CONFLICTS':<10} {'CONNS':<10}"]
    for s in services:
        lines.append(f"{addr_port(s['vip'], s['vport']):<20} {len(s['laddrs']):<8} ")
        for la in s["laddrs"]:
            lines.append(f"{'':<20} {'':<8} {la['addr']:<20} {0:<10} {la['conns']:<10}")
    return "\n".join(lines)


def rates(
    before: list[dict[str, Any]], after: list[dict[str, Any]], seconds: float
) -> list[dict[str, Any]]:
    """Per-second differences of two merged samples (ipvsadm --rate: cps, pps, Bps)."""
    old = {
        (s["proto"], s["vip"], s["vport"], d["addr"], d["port"]): d
        for s in before
        for d in s["dests"]
    }
    out = []
    for s in after:
        ds = []
        for d in s["dests"]:
            o = old.get((s["proto"], s["vip"], s["vport"], d["addr"], d["port"]), {})
            ds.append(
                {
                    **d,
                    **{
                        k: max(0, round((d[k] - o.get(k, 0)) / seconds))
                        for k in ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
                    },
                }
            )
        out.append({**s, "dests": ds})
    return out


# --- doing it ----------------------------------------------------------------------------


def _stats(ws: WorkerSet) -> list[dict[str, Any]]:
    """Every worker's services, merged; WorkerError if one does not answer (a write must
    see them all)."""
    return merge([c.call("ipvs_stats")["services"] for c in ws.clients])


def _stats_live(ws: WorkerSet) -> tuple[list[dict[str, Any]], list[int]]:
    """(services merged over the workers that answer, the lcores that do not), for reads:
    a dead worker leaves the others' listing (as `fdirctl stats`). WorkerError when none
    answers (nothing to list); a refusal (the worker answered) is not taken as dead."""
    answers, dead, first = [], [], None
    for c in ws.clients:
        try:
            answers.append(c.call("ipvs_stats")["services"])
        except WorkerRefused:
            raise
        except E.WorkerError as e:
            c.close()
            dead.append(c.lcore)
            first = first or e
    if first is not None and not answers:
        raise first
    return merge(answers), dead


def _dead_note(lab: str, dead: list[int], live: int) -> str:
    """The one stderr line of a read with dead lcores (`fdirctl stats` says the same)."""
    return (f"ipvsadm: lcores {dead} do not answer: the listing sums the other {live} lcore(s) only; "
            f"`{shellcmd.fdirctl(lab)} worker restart N` for each")


def _only(services: list[dict[str, Any]], svc: tuple[str, str, int] | None) -> list[dict[str, Any]]:
    if svc is None:
        return services
    proto, vip, port = svc
    sel = [s for s in services if (s["proto"], s["vip"], s["vport"]) == (proto, vip, port)]
    if not sel:
        raise E.Conflict(f"ipvsadm: no service {proto} {addr_port(vip, port)}")
    return sel


def run(cmd: Cmd) -> str:
    """Carry out one ipvsadm command on the lab; returns what ipvsadm prints."""
    session = open_session(lab_path(cmd.lab, "ipvsadm"))
    return run_locked("ipvsadm", session, lambda: _run(cmd, session),
                      write=cmd.command not in ("list", "get-laddr"))


def _need_service(cmd: Cmd) -> tuple[str, str, int]:
    svc = cmd.service
    if svc is None:
        raise E.BadInput(f"ipvsadm: --{cmd.command} needs -t VIP:PORT or -u VIP:PORT")
    return svc


def _run(cmd: Cmd, session: Any) -> str:
    ws = workers(session)
    c = cmd.command
    if c in ("list", "get-laddr", "zero"):
        svc = cmd.service
        if c == "zero":
            args = {} if svc is None else {"proto": svc[0], "vip": svc[1], "vport": svc[2]}
            if svc is not None:
                _only(_stats(ws), svc)
            on_all_workers(ws, "ipvs_zero", args, None)
            return ""
        merged, dead = _stats_live(ws)
        services = _only(merged, svc)
        if c == "get-laddr":
            text = format_laddrs(services)
        elif "rate" in cmd.flags:
            t0 = time.monotonic()
            time.sleep(1.0)
            merged, dead2 = _stats_live(ws)
            after = _only(merged, svc)
            if dead2 != dead:       # a rate over other lcores than the first sample is no rate
                dead = sorted(set(dead) | set(dead2))
                after = []
            text = format_list(
                after, "rate", "exact" in cmd.flags, rates(services, after, time.monotonic() - t0)
            )
        else:
            text = format_list(services, "stats" if "stats" in cmd.flags else "", "exact" in cmd.flags)
        if dead:        # the listing on stdout, the dead lcores on stderr, exit 6 as fdirctl stats
            raise E.WorkerError(_dead_note(session.args.lab, dead, len(ws.clients) - len(dead)),
                                output=text, dead=dead)
        return text
    if c == "clear":
        for s in _stats(ws):
            on_all_workers(
                ws, "service_del", {"vip": s["vip"], "vport": s["vport"], "proto": s["proto"]}, None
            )
        return ""
    proto, vip, vport = _need_service(cmd)
    key = {"vip": vip, "vport": vport, "proto": proto}
    if c in ("add-service", "edit-service"):
        sched = cmd.opts.get("scheduler", DEF_SCHED)    # DPVS ipvsadm.c: -A and -E without -s -> wlc
        if sched not in SCHEDULERS:
            raise E.BadInput(
                f"ipvsadm: scheduler {sched!r}: the lab's workers implement {', '.join(SCHEDULERS)}"
            )
        if c == "add-service":
            from controller.laddr_ops import check_lb_addr
            check_lb_addr(vip, session.lab, "ipvsadm: VIP")     # the lab file's rule (fdirlab.lb_addr)
            if any((x["proto"], x["vip"], x["vport"]) == (proto, vip, vport) for x in _stats(ws)):
                raise E.Conflict(
                    f"ipvsadm: Service already exists: {proto} {addr_port(vip, vport)}"
                )
            on_all_workers(
                ws,
                "svc_add",
                {**key, "sched": sched},
                lambda w: w.call("service_del", **key),
            )
        else:
            old = _only(_stats(ws), (proto, vip, vport))[0]["sched"]
            on_all_workers(
                ws,
                "svc_edit",
                {**key, "sched": sched},
                lambda w: w.call("svc_edit", **key, sched=old),
            )
        return ""
    if c == "delete-service":
        _only(_stats(ws), (proto, vip, vport))
        on_all_workers(ws, "service_del", key, None)
        return ""
    if c in ("add-server", "edit-server", "delete-server"):
        if "real-server" not in cmd.opts:
            raise E.BadInput(f"ipvsadm: --{c} needs -r RS[:PORT]")
        raddr, rport = split_addr_port(cmd.opts["real-server"], "-r", vport)
        if (":" in raddr) != (":" in vip):
            raise E.BadInput(f"ipvsadm: -r {cmd.opts['real-server']}: not the family of VIP {vip}")
        weight = _weight(cmd)       # DPVS ipvsadm.c: -a and -e without -w -> weight 1
        dkey = {**key, "addr": raddr, "port": rport}
        where = f"{proto} {addr_port(vip, vport)}"
        service = _only(_stats(ws), (proto, vip, vport))[0]
        cur = next((d for d in service["dests"] if (d["addr"], d["port"]) == (raddr, rport)), None)
        if c == "add-server":
            lab = session.lab       # the lab file's rule for real servers (fdirlab.real_server)
            why = real_server_problem(raddr, lab.subnet, lab.subnet6, {*lab.laddrs, *lab.vips, vip}) \
                if lab is not None else None
            if why:
                raise E.BadInput(f"ipvsadm: -r {cmd.opts['real-server']}: {why}")
            if cur is not None:
                raise E.Conflict(
                    f"ipvsadm: Destination already exists: {addr_port(raddr, rport)} in {where}"
                )
            on_all_workers(
                ws,
                "dest_add",
                {**dkey, "weight": weight},
                lambda w: w.call("dest_del", **dkey),
            )
        elif c == "edit-server":
            if cur is None:
                raise E.Conflict(f"ipvsadm: no server {addr_port(raddr, rport)} in {where}")
            on_all_workers(
                ws,
                "dest_edit",
                {**dkey, "weight": weight},
                lambda w: w.call("dest_edit", **dkey, weight=cur["weight"]),
            )
        else:
            if cur is None:
                raise E.Conflict(f"ipvsadm: no server {addr_port(raddr, rport)} in {where}")
            on_all_workers(
                ws,
                "dest_del",
                dkey,
                lambda w: w.call("dest_add", **dkey, weight=cur["weight"]),
            )
        return ""
    if c in ("add-laddr", "del-laddr"):
        return _laddr(cmd, session, ws, key)
    raise E.BadInput(f"ipvsadm: --{c} is not modelled by the lab")


def _weight(cmd: Cmd) -> int:
    """-w W, 0..MAX_WEIGHT; 1 when not given (DPVS ipvsadm.c process_options)."""
    if "weight" not in cmd.opts:
        return DEF_WEIGHT
    w = cmd.opts["weight"]
    if not w.isdigit() or int(w) > MAX_WEIGHT:
        raise E.BadInput(f"ipvsadm: -w {w!r}: weight is 0..{MAX_WEIGHT}")
    return int(w)


def _laddr(cmd: Cmd, session: Any, ws: WorkerSet, key: dict[str, Any]) -> str:
    from controller.laddr_ops import add_laddrs, check_lb_addr, del_laddrs
    from controller.rules import canonical_ip

    if "laddr" not in cmd.opts:
        raise E.BadInput(f"ipvsadm: --{cmd.command} needs -z LADDR")
    if cmd.command == "add-laddr":    # the lab file's rule for LB addresses (fdirlab.lb_addr)
        lip = check_lb_addr(cmd.opts["laddr"], session.lab, "ipvsadm: -z")
    else:
        lip = canonical_ip(cmd.opts["laddr"], "-z")
    if (":" in lip) != (":" in key["vip"]):
        raise E.BadInput(f"ipvsadm: -z {lip}: not the family of VIP {key['vip']}")
    dev = session.lab.nic.device
    ifname = cmd.opts.get("ifname")
    if cmd.command == "add-laddr" and ifname is None:
        raise E.BadInput("ipvsadm: --add-laddr needs -F IFNAME")
    if ifname is not None and ifname != dev:
        raise E.BadInput(f"ipvsadm: -F {ifname}: no such device (the lab's NIC is {dev})")
    svc = _only(_stats(ws), (key["proto"], key["vip"], key["vport"]))[0]
    have = any(la["addr"] == lip for la in svc["laddrs"])
    ctx = lab_ctx(session)
    present = lip in ctx.state().laddrs
    largs = {**key, "laddr": lip}
    if cmd.command == "add-laddr":
        if have:
            raise E.Conflict(
                f"ipvsadm: {lip} is already a local address of {key['proto']} "
                f"{addr_port(key['vip'], key['vport'])}"
            )
        if not present:
            add_laddrs(ctx, [lip])  # filters, then every worker's sa_pool
        try:
            on_all_workers(
                ws, "service_laddr_add", largs, lambda w: w.call("svc_laddr_del", **largs)
            )
        except E.ControllerError as exc:
            if not present:  # the address was added for this service only: take it away again
                undo = Undo()
                undo.step(f"local address {lip} is still present",
                          functools.partial(del_laddrs, ctx, [lip], force=True))
                undo.check(exc)
            raise
        return ""
    if not have:
        raise E.Conflict(
            f"ipvsadm: {lip} is not a local address of {key['proto']} "
            f"{addr_port(key['vip'], key['vport'])}"
        )
    on_all_workers(ws, "svc_laddr_del", largs, lambda w: w.call("service_laddr_add", **largs))
    still_used = any(la["addr"] == lip for s in _stats(ws) for la in s["laddrs"])
    if present and not still_used:
        try:
            del_laddrs(ctx, [lip], force=False)  # pools (refused while conns hold them), filters
        except E.WorkerError:
            pass  # conns still hold it: it stays for them
    return ""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return tool_main("ipvsadm", lambda: run(parse_argv(args)))


if __name__ == "__main__":
    sys.exit(main())
