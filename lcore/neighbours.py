"""Neighbour table of one worker: IP address -> MAC for the frames it transmits, from
static entries (control socket `neigh_add`) and from learning received frames' source MAC.

The worker sends no ARP/ND itself (the switch answers ARP for the LB addresses and nothing
but NAT work happens here), so a destination nobody taught us is a counted drop. Static
entries win over learned ones; learning keeps the last MAC seen for a source address,
which for a client behind a router is the router's MAC -- the right next hop.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any

from lcore.errors import ConfigError

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
MAX_LEARNED = 65536          # bound the learned table against spoofed-source floods


def parse_mac(text: object) -> bytes:
    if not isinstance(text, str) or not _MAC_RE.match(text):
        raise ConfigError(f"not a MAC address (aa:bb:cc:dd:ee:ff): {text!r}")
    mac = bytes.fromhex(text.replace(":", ""))
    if mac[0] & 1:
        raise ConfigError(f"MAC address {text} is multicast/broadcast")
    return mac


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def parse_addr(text: object, what: str = "address") -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)  # type: ignore[arg-type]
    except ValueError:
        raise ConfigError(f"{what} is not an IPv4 or IPv6 address: {text!r}") from None


class Neighbours:
    def __init__(self) -> None:
        self.static: dict[bytes, bytes] = {}
        self.learned: dict[bytes, bytes] = {}

    def add(self, addr: str, mac: str) -> None:
        self.static[parse_addr(addr).packed] = parse_mac(mac)

    def delete(self, addr: str) -> bool:
        packed = parse_addr(addr).packed
        return (self.static.pop(packed, None) is not None) | (self.learned.pop(packed, None) is not None)

    def learn(self, addr: bytes, mac: bytes) -> None:
        if mac[0] & 1:
            return                          # never learn a group MAC as a next hop
        learned = self.learned
        if learned.get(addr) != mac:
            if len(learned) >= MAX_LEARNED and addr not in learned:
                learned.pop(next(iter(learned)))
            learned[addr] = mac

    def lookup(self, addr: bytes) -> bytes | None:
        mac = self.static.get(addr)
        return mac if mac is not None else self.learned.get(addr)

    def describe(self) -> list[dict[str, Any]]:
        out = [{"addr": str(ipaddress.ip_address(a)), "mac": format_mac(m), "type": "static"}
               for a, m in self.static.items()]
        out += [{"addr": str(ipaddress.ip_address(a)), "mac": format_mac(m), "type": "learned"}
                for a, m in self.learned.items() if a not in self.static]
        return out
