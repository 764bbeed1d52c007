"""Control ops for DPVS's ipvsadm on one worker: services that start empty (`ipvsadm -A`),
scheduler edits (`-E`), real servers (`-a/-e/-d`), counters (`-L --stats`, `-Z`).

Each handler takes the datapath and a validated request (control.py checks the field
names) and returns the reply's fields; a bad value raises ConfigError and changes nothing.

  {"op":"svc_add","vip":..,"vport":80,"proto":"tcp","sched":"rr"}   no servers, no laddrs yet
  {"op":"svc_edit","vip":..,"vport":..,"proto":..,"sched":"wrr"}
  {"op":"dest_add"|"dest_edit","vip":..,"vport":..,"proto":..,"addr":"10.0.2.1","port":8080,"weight":1}
  {"op":"dest_del","vip":..,"vport":..,"proto":..,"addr":..,"port":..}
      (open conns to the server keep it until they end, as IPVS keeps a deleted dest in its trash)
  {"op":"svc_laddr_del","vip":..,"vport":..,"proto":..,"laddr":..}   the last one may go too
  {"op":"ipvs_stats"}   -> {"services": [{vip, vport, proto, sched, dests: [{addr, port, weight,
                            activeconns, inactconns, conns, inpkts, outpkts, inbytes, outbytes}],
                            laddrs: [{addr, conns}]}]}
  {"op":"ipvs_zero"} or with vip, vport, proto: zero the --stats counters
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from fdirlab.hostport import host_port
from lcore.datapath import PROTOS, Datapath, _check_port
from lcore.errors import ConfigError
from lcore.neighbours import parse_addr
from lcore.scheduler import Dest, Service, check_sched, check_weight
from lcore.tcp_state import TcpState

SVC = {"vip", "vport", "proto"}
OPS: dict[str, tuple[set[str], set[str]]] = {
    "svc_add": (SVC, {"sched"}),
    "svc_edit": (SVC | {"sched"}, set()),
    "dest_add": (SVC | {"addr", "port"}, {"weight"}),
    "dest_edit": (SVC | {"addr", "port", "weight"}, set()),
    "dest_del": (SVC | {"addr", "port"}, set()),
    "svc_laddr_del": (SVC | {"laddr"}, set()),
    "ipvs_stats": (set(), set()),
    "ipvs_zero": (set(), SVC),
}


def svc_add(dp: Datapath, req: dict[str, Any]) -> dict[str, Any]:
    v = parse_addr(req["vip"], "vip")
    port = _check_port(req["vport"], "vport")
    proto = req["proto"]
    if proto not in PROTOS:
        raise ConfigError(f"unknown proto {proto!r}: use tcp or udp")
    key = (PROTOS[proto], v.packed, port)
    if key in dp.services:
        raise ConfigError(f"service {proto} {host_port(str(v), port)} exists")
    if v.packed in dp.pools:
        raise ConfigError(f"vip {v} is a local address (it has a pool)")
    sched = check_sched(req.get("sched", "rr"))
    svc = Service(PROTOS[proto], str(v), v.packed, port, sched, [], [], [], rng=dp.rng)
    dp.services[key] = svc
    dp.vips[v.packed] = dp.vips.get(v.packed, 0) + 1
    return {"service": svc.describe()}


def svc_edit(dp: Datapath, req: dict[str, Any]) -> dict[str, Any]:
    svc = dp._service(req["vip"], req["vport"], req["proto"])
    svc.sched = check_sched(req["sched"])
    return {"service": svc.describe()}


def _dest(
    svc: Service, req: dict[str, Any]
) -> tuple[int | None, ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    a = parse_addr(req["addr"], "server addr")
    if a.version != ipaddress.ip_address(svc.vip).version:
        raise ConfigError(f"server {a} is IPv{a.version} but vip {svc.vip} is not")
    port = _check_port(req["port"], "server port")
    for i, d in enumerate(svc.dests):
        if d.addr_bytes == a.packed and d.port == port:
            return i, a, port
    return None, a, port


def dest_add(dp: Datapath, req: dict[str, Any]) -> dict[str, Any]:
    svc = dp._service(req["vip"], req["vport"], req["proto"])
    i, a, port = _dest(svc, req)
    weight = check_weight(req.get("weight", 1))
    if i is not None:
        raise ConfigError(
            f"server {host_port(str(a), port)} of {req['proto']} {host_port(svc.vip, svc.vport)} exists"
        )
    svc.dests.append(Dest(str(a), a.packed, port, weight))
    return {"service": svc.describe()}


def dest_edit(dp: Datapath, req: dict[str, Any]) -> dict[str, Any]:
    svc = dp._service(req["vip"], req["vport"], req["proto"])
    i, a, port = _dest(svc, req)
    weight = check_weight(req["weight"])
    if i is None:
        raise ConfigError(f"no server {host_port(str(a), port)} in {req['proto']} {host_port(svc.vip, svc.vport)}")
    svc.dests[i].weight = weight
    return {"service": svc.describe()}


def dest_del(dp: Datapath, req: dict[str, Any]) -> dict[str, Any]:
    svc = dp._service(req["vip"], req["vport"], req["proto"])
    i, a, port = _dest(svc, req)
    if i is None:
        raise ConfigError(f"no server {host_port(str(a), port)} in {req['proto']} {host_port(svc.vip, svc.vport)}")
    del svc.dests[i]
    svc._rr = -1
    svc._wrr_i = -1
    return {"service": svc.describe()}


def svc_laddr_del(dp: Datapath, req: dict[str, Any]) -> dict[str, Any]:
    """ipvsadm --del-laddr: unlike service_laddr_del, the service's last address may go too
    (DPVS allows a service without local addresses; its new conns then fail, counted)."""
    svc = dp._service(req["vip"], req["vport"], req["proto"])
    a = parse_addr(req["laddr"], "laddr")
    if a.packed not in svc.laddrs:
        raise ConfigError(
            f"laddr {a} is not a local address of {req['proto']} {host_port(svc.vip, svc.vport)}"
        )
    svc.del_laddr(a.packed)
    return {"laddrs": list(svc.laddr_names)}


def ipvs_stats(dp: Datapath, req: dict[str, Any]) -> dict[str, Any]:
    active: dict[int, int] = {}
    inact: dict[int, int] = {}
    per_laddr: dict[tuple[int, bytes], int] = {}
    for conn in dp.conns:
        d = id(conn.dest)
        if conn.state == TcpState.ESTABLISHED:
            active[d] = active.get(d, 0) + 1
        else:
            inact[d] = inact.get(d, 0) + 1
        k = (id(conn.service), conn.laddr)
        per_laddr[k] = per_laddr.get(k, 0) + 1
    out = []
    for svc in dp.services.values():
        view = svc.describe()
        view["dests"] = [
            {
                "addr": x.addr,
                "port": x.port,
                "weight": x.weight,
                "activeconns": active.get(id(x), 0),
                "inactconns": inact.get(id(x), 0),
                "conns": x.total_conns,
                "inpkts": x.inpkts,
                "outpkts": x.outpkts,
                "inbytes": x.inbytes,
                "outbytes": x.outbytes,
            }
            for x in svc.dests
        ]
        view["laddrs"] = [
            {"addr": name, "conns": per_laddr.get((id(svc), packed), 0)}
            for name, packed in zip(svc.laddr_names, svc.laddrs, strict=True)
        ]
        out.append(view)
    return {"services": out}


def ipvs_zero(dp: Datapath, req: dict[str, Any]) -> dict[str, Any]:
    if req.keys() & SVC and not SVC <= req.keys():
        raise ConfigError("ipvs_zero needs all of vip, vport, proto, or none")
    svcs = (
        [dp._service(req["vip"], req["vport"], req["proto"])]
        if SVC <= req.keys()
        else list(dp.services.values())
    )
    for svc in svcs:
        for x in svc.dests:
            x.total_conns = x.inpkts = x.outpkts = x.inbytes = x.outbytes = 0
    return {"zeroed": len(svcs)}



HANDLERS: dict[str, Callable[[Datapath, dict[str, Any]], dict[str, Any]]] = {
    "svc_add": svc_add,
    "svc_edit": svc_edit,
    "dest_add": dest_add,
    "dest_edit": dest_edit,
    "dest_del": dest_del,
    "svc_laddr_del": svc_laddr_del,
    "ipvs_stats": ipvs_stats,
    "ipvs_zero": ipvs_zero,
}
