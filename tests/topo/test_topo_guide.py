"""The banner `make run` prints (topo/guide.py): every command in it is one the tool reads
(breakit2 finding 11: an IPv6-only lab printed `http://fd00:fd::100:80/`)."""
from __future__ import annotations

import ipaddress
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

from fdirlab.lab_config import load_lab, parse_lab
from topo.guide import guide_text

V6ONLY = {"lab": {"name": "v6only"}, "lcores": {"count": 1, "port_range": "65535-65535"},
          "laddrs": {"addrs": ["fd00:fd::200"]},
          "services": [{"name": "web6", "vip": "fd00:fd::100", "vport": 80, "proto": "tcp",
                        "servers": [{"server": "rs1", "port": 8080}]},
                       {"name": "dns6", "vip": "fd00:fd::100", "vport": 5353, "proto": "udp",
                        "servers": [{"server": "rs2", "port": 5353}]}]}
REPO = Path(__file__).resolve().parents[2]


def _banner(lab) -> str:
    return guide_text(lab, "softswitch", Path(lab.run_dir), Path(lab.run_dir) / "logs", False, ["fdirctl init"])


def _urls(text: str) -> list[str]:
    return re.findall(r"http://\S+", text)


def _check_urls(text: str, lab) -> list[tuple[str, int]]:
    got = []
    for u in _urls(text):
        parts = urlsplit(u)                  # raises on an unbracketed IPv6 literal with a port
        host, port = parts.hostname, parts.port
        assert host is not None and port is not None, u
        assert ipaddress.ip_address(host)
        got.append((host, port))
    return got


def test_ipv6_only_lab_prints_bracketed_urls_once():
    lab = parse_lab(V6ONLY)
    text = _banner(lab)
    assert _check_urls(text, lab) == [("fd00:fd::100", 80), ("fd00:fd::100", 80)], text   # curl, wrk
    curls = [ln for ln in text.splitlines() if " curl " in ln]
    assert curls == ["  try:  h1 curl -s -g http://[fd00:fd::100]:80/hello"], curls
    assert "fd00:fd::100:80" not in text
    assert "nc -u -w1 fd00:fd::100 5353" in text
    assert "--vip fd00:fd::100 --count 200" in text


def test_default_lab_prints_one_curl_per_family():
    lab = load_lab(REPO / "topo/labs/default.toml")
    text = _banner(lab)
    curls = [shlex.split(ln.split("try:")[-1])[-1] for ln in text.splitlines() if " curl " in ln]
    assert curls == ["http://10.0.0.100:80/hello", "http://[fd00:fd::100]:80/hello"], text
    assert _check_urls(text, lab)


def test_every_lab_file_in_the_repo_prints_urls_a_tool_reads():
    for f in sorted((REPO / "topo/labs").glob("*.toml")):
        _check_urls(_banner(load_lab(f)), None)


def test_lab_without_services_prints_the_dpvs_commands():
    lab = parse_lab({"services": []})
    text = _banner(lab)
    assert "ipvsadm -A -t 10.0.0.100:80 -s rr" in text and "-r 10.0.2.1:80 -b" in text, text
