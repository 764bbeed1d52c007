"""DPVS's `dpip addr` for the lab (DPVS tools/dpip/addr.c), mapped onto the NIC program:

  dpip addr add ADDR[/LEN] dev IFACE sapool   a local address: fdirctl laddr add (filters
                                              on the switch, then every worker's sa_pool),
                                              all or nothing
  dpip addr add ADDR[/LEN] dev IFACE          a VIP: the NIC answers ARP for it and treats it
                                              as a load-balancer address (lb_addr)
  dpip addr del ADDR[/LEN] dev IFACE          the reverse; a local address a service still
                                              binds is refused (ipvsadm --del-laddr first)
  dpip [-s|-v] addr show                      addresses as DPVS prints them; -s adds the
                                              sa_pool counters summed over the lcores

The NIC owns single addresses: LEN is accepted but not kept (no route is made from it), so
`show` prints every address as /32 (IPv6 /128). DPVS keeps LEN (tools/dpip/addr.c prints
the prefix given); the lab's switch holds only the address. A dead worker: `-s` sums the
others' sa_pool counters and names its lcore on stderr, exit 6.
`--lab FILE` (or $FDIRLAB_LAB) names the lab; exit codes are fdirctl's.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

from controller import errors as E
from controller import shellcmd
from controller.dpvs_session import lab_ctx, lab_path, open_session, run_locked, tool_main, workers
from controller.entries import COOKIE_BASE
from controller.laddr_ops import add_laddrs, check_lb_addr, del_laddrs, write_all
from controller.p4rt_client import DELETE, INSERT
from controller.rules import _lb_owned
from controller.workers import WorkerRefused
from fdirlab.hostport import host_port


def parse_argv(argv: list[str]) -> dict[str, Any]:
    """-> {lab, stats, verbose, family, cmd: add|del|show, addr, plen, dev, sapool}."""
    out: dict[str, Any] = {
        "lab": None,
        "stats": False,
        "verbose": False,
        "family": None,
        "cmd": "show",
        "addr": None,
        "plen": None,
        "dev": None,
        "sapool": False,
    }
    args = list(argv)
    while args and args[0].startswith("-"):
        a = args.pop(0)
        if a == "--lab":
            if not args:
                raise E.BadInput("dpip: --lab needs a file")
            out["lab"] = args.pop(0)
        elif a.startswith("--lab="):
            out["lab"] = a.split("=", 1)[1]
        elif a in ("-s", "--stats"):
            out["stats"] = True
        elif a in ("-v", "--verbose"):
            out["verbose"] = True
        elif a in ("-4", "-6"):
            out["family"] = int(a[1])
        else:
            raise E.BadInput(f"dpip: unknown option {a!r}")
    if not args or args[0] not in ("addr", "address"):
        raise E.BadInput("dpip: the lab models `dpip addr add|del|show`")
    args.pop(0)
    if args:
        verb = args.pop(0)
        if verb not in ("add", "del", "show", "list"):
            raise E.BadInput(f"dpip: addr {verb}: use add, del or show")
        out["cmd"] = "show" if verb == "list" else verb
    while args:
        a = args.pop(0)
        if a == "dev":
            if not args:
                raise E.BadInput("dpip: dev needs a device name")
            out["dev"] = args.pop(0)
        elif a == "sapool":
            out["sapool"] = True
        elif a in ("scope", "broadcast", "valid_lft", "prefered_lft"):
            if not args:
                raise E.BadInput(f"dpip: {a} needs a value")
            args.pop(0)  # accepted like DPVS, no effect in the lab
        elif out["addr"] is None:
            host, _, plen = a.partition("/")
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                raise E.BadInput(f"dpip: {a!r}: not an IP address") from None
            if plen and (not plen.isdigit() or int(plen) > ip.max_prefixlen):
                raise E.BadInput(
                    f"dpip: {a!r}: prefix length {plen!r} is not 0..{ip.max_prefixlen}"
                )
            if out["family"] and out["family"] != ip.version:
                raise E.BadInput(f"dpip: {a!r}: not IPv{out['family']}")
            out["addr"], out["plen"] = str(ip), int(plen) if plen else ip.max_prefixlen
        else:
            raise E.BadInput(f"dpip: too many arguments ({a!r})")
    if out["cmd"] in ("add", "del"):
        if out["addr"] is None:
            raise E.BadInput("dpip: missing IFADDR")
        if out["dev"] is None:
            raise E.BadInput("dpip: no device specified.")
    return out


def format_addr(addr: str, plen: int, dev: str, pool: dict[str, int] | None) -> str:
    """DPVS addr_dump: `inet ADDR/LEN scope global DEV` and the lifetimes line."""
    fam = "inet6" if ":" in addr else "inet"
    line = f"{fam} {addr}/{plen} scope global {dev}\n     valid_lft forever preferred_lft forever"
    if pool is not None:
        line += f" sa_used {pool['sa_used']} sa_free {pool['sa_free']} sa_miss {pool['sa_miss']}"
    return line


def run(a: dict[str, Any]) -> str:
    session = open_session(lab_path(a["lab"], "dpip"))
    return run_locked("dpip", session, lambda: _run(a, session), write=a["cmd"] != "show")


def _run(a: dict[str, Any], session: Any) -> str:
    lab = session.lab
    dev = lab.nic.device
    if a["dev"] is not None and a["dev"] != dev:
        raise E.BadInput(f"dpip: dev {a['dev']}: no such device (the lab's NIC is {dev})")
    ctx = lab_ctx(session, write=a["cmd"] != "show")
    st = ctx.initialised_state()
    vips = set(st.layout.vips)
    if a["cmd"] == "show":
        pools: dict[str, dict[str, int]] = {}
        dead: list[int] = []
        if a["stats"] or a["verbose"]:
            ws = workers(session)
            for c in ws.clients:
                try:
                    answer = c.pools()
                except WorkerRefused:
                    raise
                except E.WorkerError:   # a dead worker: the others' sum, its lcore named (exit 6)
                    c.close()
                    dead.append(c.lcore)
                    continue
                for p in answer.get("pools", []):
                    s = pools.setdefault(p["laddr"], {"sa_used": 0, "sa_free": 0, "sa_miss": 0})
                    for k in s:
                        s[k] += int(p.get(k, 0))
        rows = [(v, None) for v in sorted(vips, key=_key)] + [
            (
                la,
                pools.get(la, {"sa_used": 0, "sa_free": 0, "sa_miss": 0})
                if (a["stats"] or a["verbose"])
                else None,
            )
            for la in sorted(st.laddrs, key=_key)
        ]
        rows = [
            r
            for r in rows
            if a["family"] is None or ipaddress.ip_address(r[0]).version == a["family"]
        ]
        text = "\n".join(
            format_addr(addr, 128 if ":" in addr else 32, dev, pool) for addr, pool in rows
        )
        if dead:
            raise E.WorkerError(
                f"dpip: lcores {dead} do not answer: sa_pool counters sum the other "
                f"{len(ws.clients) - len(dead)} lcore(s) only; "
                f"`{shellcmd.fdirctl(session.args.lab)} worker restart N` for each",
                output=text, dead=dead)
        return text
    addr = a["addr"]
    if a["cmd"] == "add":
        check_lb_addr(addr, session.lab, "dpip: address")    # the lab file's rule (fdirlab.lb_addr)
        if addr in vips or addr in st.laddrs:
            raise E.Conflict(f"dpip: {addr} already exists on {dev}")
        if a["sapool"]:
            add_laddrs(ctx, [addr])
        else:
            entries = _lb_owned(addr, st.layout.lb_mac, COOKIE_BASE)
            write_all(ctx, [(INSERT, e) for e in entries], "dpip addr add")
        return ""
    if addr in st.laddrs:
        ws = workers(session)
        users = [
            f"{s['proto']} {host_port(s['vip'], s['vport'])}"
            for s in ws.clients[0].services().get("services", [])
            if addr in s.get("laddrs", [])
        ]
        if users:
            raise E.Conflict(
                f"dpip: {addr} is a local address of {', '.join(users)}: "
                f"`ipvsadm --del-laddr -z {addr} ...` first"
            )
        del_laddrs(ctx, [addr], force=False)
        return ""
    if addr in vips:
        entries = [
            e
            for e in st.entries
            if e.cookie == COOKIE_BASE
            and e.key in {x.key for x in _lb_owned(addr, st.layout.lb_mac, COOKIE_BASE)}
        ]
        write_all(ctx, [(DELETE, e) for e in entries], "dpip addr del")
        return ""
    raise E.Conflict(f"dpip: {addr} is not an address of {dev}")


def _key(a: str) -> tuple[int, int]:
    ip = ipaddress.ip_address(a)
    return ip.version, int(ip)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return tool_main("dpip", lambda: run(parse_argv(args)))


if __name__ == "__main__":
    sys.exit(main())
