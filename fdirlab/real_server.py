"""One rule for the real servers (ipvsadm -r, a lab file's services[].servers), used by the
lab file and meant for every command that adds one at run time (ipvsadm -a).

A real server must be a unicast address on the lab's link: the lab has no router, so the
load balancer reaches a real server only by resolving its MAC on the link (ARP, IPv6 ND,
RFC 4861 §7.2); an address outside lab.subnet / subnet6 never answers, and a conn to it
only times out. Neither may it be an address the load balancer itself owns (a VIP or a
local address), nor multicast, unspecified, loopback or link-local (RFC 4291 §2.5.6).
A (address, port) is one destination of a service, as DPVS's ipvsadm keys dests
(tools/ipvsadm: `Destination already exists`).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable


def real_server_problem(addr: str, subnet: str | None = None, subnet6: str | None = None,
                        lb_addrs: Collection[str] = ()) -> str | None:
    """Why `addr` cannot be a real server of this lab, or None when it can.

    addr: an IP address text (ValueError if it is none). subnet / subnet6: the lab's
    networks (None: not checked). lb_addrs: the VIPs and local addresses the LB owns."""
    ip = ipaddress.ip_address(addr.strip())
    for bad, what in ((ip.is_multicast, "a multicast address"), (ip.is_unspecified, "the unspecified address"),
                      (ip.is_loopback, "a loopback address"), (ip.is_link_local, "a link-local address")):
        if bad:
            return what
    net_text = subnet if ip.version == 4 else subnet6
    if net_text:
        net = ipaddress.ip_network(net_text, strict=False)
        if ip not in net:
            return (f"outside the lab subnet {net}: the lab has no router, a real server must be on-link "
                    f"(a lab server's address)")
        if net.num_addresses > 2 and ip == net.network_address:
            return f"the network address of the lab subnet {net}, no host's"
        if ip.version == 4 and net.num_addresses > 2 and ip == net.broadcast_address:
            return f"the broadcast address of the lab subnet {net}, no host's"
    if str(ip) in {str(ipaddress.ip_address(a)) for a in lb_addrs}:
        return "an address of the load balancer itself (a VIP or local address)"
    return None


def duplicate_dest(dests: Iterable[tuple[str, int]], addr: str, port: int) -> int | None:
    """The index in `dests` ((address, port) of a service's real servers, in order) that
    already is `addr`:`port`, or None. Addresses compare as IP addresses (`fd00::1` is
    `fd00:0::1`)."""
    want = (ipaddress.ip_address(addr.strip()), port)
    for i, (a, p) in enumerate(dests):
        if (ipaddress.ip_address(a.strip()), p) == want:
            return i
    return None

