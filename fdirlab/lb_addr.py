"""One rule for the addresses the load balancer owns (local addresses and VIPs), used by the
lab file and by every command that adds one at run time (fdirctl laddr add, ipvsadm
--add-laddr and -A, dpip addr add).

An LB address must be a unicast address a host on the lab's link can reach and answer:
not multicast, unspecified, loopback or link-local (RFC 3927, RFC 4291 §2.5.6), not the
limited broadcast 255.255.255.255 nor the lab subnet's own network or broadcast address
(RFC 919/922), not an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2: it names an IPv4 host,
the NIC would never see it as IPv6), inside the lab's subnet / subnet6 (hosts are on-link,
nothing routes to the LB), and not an address a lab host (client or real server) already has.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping

LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def lb_addr_problem(addr: str, subnet: str | None = None, subnet6: str | None = None,
                    hosts: Mapping[str, str] | None = None) -> str | None:
    """Why `addr` cannot be an LB address, or None when it can.

    addr: an IP address text (ValueError if it is none). subnet / subnet6: the lab's networks
    (None: not checked, e.g. no lab file given). hosts: {host IP: host name} of the lab's
    clients and real servers."""
    ip = ipaddress.ip_address(addr.strip())
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"an IPv4-mapped IPv6 address (it names IPv4 host {ip.ipv4_mapped})"
    if ip == LIMITED_BROADCAST:
        return "the limited broadcast address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    net_text = subnet if ip.version == 4 else subnet6
    if net_text:
        net = ipaddress.ip_network(net_text, strict=False)
        if ip not in net:
            return f"outside the lab subnet {net}"
        if ip.version == 4 and ip == net.broadcast_address:
            return f"the broadcast address of the lab subnet {net}"
        if ip == net.network_address:
            return f"the network address of the lab subnet {net}"
    owner = (hosts or {}).get(str(ip))
    if owner:
        return f"already the address of lab host {owner}"
    return None
