"""Address:port and URL text for what the lab prints (banners, hints): an IPv6 literal goes
in brackets, `[fd00:fd::100]:80`, `http://[fd00:fd::100]:80/` (RFC 3986 §3.2.2), as curl,
wrk, nc and ipvsadm read it; IPv4 stays `10.0.0.100:80`."""
from __future__ import annotations


def host_port(addr: str, port: int) -> str:
    """`10.0.0.1:80` or `[fd00::1]:80`; addr: an IP address text."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def http_url(addr: str, port: int, path: str = "/") -> str:
    """`http://10.0.0.1:80/hello` or `http://[fd00::1]:80/hello`; path starts with `/`."""
    return f"http://{host_port(addr, port)}{path}"
