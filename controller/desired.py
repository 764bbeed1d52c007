"""What every lcore worker should hold, from the lab file and the local addresses the switch
holds. Pure; used by doctor (to compare), reconcile and `worker restart` (to apply).

  pools       one sa_pool per local address on the switch, with the switch's slot
  services    the lab's services; each binds its lab-listed local addresses that the switch
              holds, plus every switch address the lab does not list (added at run time:
              `laddr add` attaches those to every service of their family, DPVS
              `ipvsadm --add-laddr`)
  neighbours  the lab's hosts (IPv4 and IPv6)
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from fdirlab.lab_config import Lab, Service


def same_family(a: str, b: str) -> bool:
    return ipaddress.ip_address(a).version == ipaddress.ip_address(b).version


def service_key(svc: dict[str, Any]) -> tuple[str, int, str]:
    return (str(svc.get("vip")), int(svc.get("vport", 0)), str(svc.get("proto")))


def service_laddrs(svc: Service, lab_laddrs: tuple[str, ...], laddrs: dict[str, int]) -> list[str]:
    out = [a for a in svc.laddrs if a in laddrs]
    out += [a for a in laddrs if a not in lab_laddrs and same_family(a, svc.vip) and a not in out]
    return out


@dataclass
class WorkerWant:
    pools: dict[str, int]                                # laddr -> slot
    services: dict[tuple[str, int, str], dict[str, Any]] = field(default_factory=dict)  # key -> service_add spec
    neighs: dict[str, str] = field(default_factory=dict)  # addr -> mac


def wanted(lab: Lab | None, laddrs: dict[str, int]) -> WorkerWant:
    """The state every worker should hold. Without a lab file only the pools are known.
    A service none of whose local addresses is on the switch gets no spec (service_add needs
    at least one); doctor reports it."""
    w = WorkerWant(pools=dict(laddrs))
    if lab is None:
        return w
    for svc in lab.services:
        spec = svc.worker_spec()
        spec["laddrs"] = service_laddrs(svc, lab.laddrs, laddrs)
        if spec["laddrs"]:
            w.services[(svc.vip, svc.vport, svc.proto)] = spec
    for h in lab.hosts:
        w.neighs[h.ip] = h.mac
        if h.ip6:
            w.neighs[h.ip6] = h.mac
    return w


def spec_differs(have: dict[str, Any], want: dict[str, Any]) -> bool:
    """Scheduler or real servers differ (local addresses are compared separately)."""
    def servers(d: dict[str, Any]) -> list[tuple[str, int, int]]:
        return sorted((str(ipaddress.ip_address(s["addr"])), int(s["port"]), int(s.get("weight", 1)))
                      for s in d.get("servers", []))
    return have.get("sched") != want.get("sched") or servers(have) != servers(want)
