"""What every lcore worker should hold, from the lab file and the local addresses the switch
holds. Pure; used by doctor (to compare), reconcile and `worker restart` (to apply).

  pools       one sa_pool per local address on the switch, with the switch's slot
  services    the lab's services; each binds its lab-listed local addresses that the switch
              holds. An address added at run time belongs to the services it was attached
              to (DPVS: `ipvsadm --add-laddr` per service; `fdirctl laddr add` attaches it to
              every service of its family), which the lab file cannot say: `runtime` names
              them (what the live workers bind), else they are bound nowhere. That is what
              reconcile makes (it removes run-time addresses) and what doctor checks.
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


def service_laddrs(svc: Service, lab_laddrs: tuple[str, ...], laddrs: dict[str, int],
                   runtime: dict[tuple[str, int, str], list[str]] | None = None) -> list[str]:
    """svc's lab-listed addresses the switch holds, then the run-time addresses (on the switch,
    not in the lab file) that `runtime` says it binds."""
    out = [a for a in svc.laddrs if a in laddrs]
    extra = (runtime or {}).get((svc.vip, svc.vport, svc.proto), [])
    out += [a for a in extra if a in laddrs and a not in lab_laddrs and same_family(a, svc.vip) and a not in out]
    return out


def runtime_binds(services: list[list[dict[str, Any]]], lab_laddrs: tuple[str, ...]
                  ) -> dict[tuple[str, int, str], list[str]]:
    """Service key -> the run-time local addresses (not in the lab file) the live workers'
    services bind (any of them), from each worker's `services` answer."""
    out: dict[tuple[str, int, str], list[str]] = {}
    for svcs in services:
        for s in svcs:
            got = out.setdefault(service_key(s), [])
            got += [a for a in s.get("laddrs", []) if a not in lab_laddrs and a not in got]
    return out


@dataclass
class WorkerWant:
    pools: dict[str, int]                                # laddr -> slot
    services: dict[tuple[str, int, str], dict[str, Any]] = field(default_factory=dict)  # key -> service_add spec
    neighs: dict[str, str] = field(default_factory=dict)  # addr -> mac


def wanted(lab: Lab | None, laddrs: dict[str, int],
           runtime: dict[tuple[str, int, str], list[str]] | None = None) -> WorkerWant:
    """The state every worker should hold (laddrs: the switch's local address -> slot that
    the workers should have pools of; runtime: see service_laddrs). Without a lab file only
    the pools are known. A service none of whose local addresses is on the switch gets no
    spec (service_add needs at least one); doctor reports it."""
    w = WorkerWant(pools=dict(laddrs))
    if lab is None:
        return w
    for svc in lab.services:
        spec = svc.worker_spec()
        spec["laddrs"] = service_laddrs(svc, lab.laddrs, laddrs, runtime)
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
