"""Every fdirctl argument checked before anything is connected: a bad address, port, mask,
count, MAC, file or option combination is exit 2 naming the value, even when the switch
is not running (`fdirctl --grpc-addr 127.0.0.1:1 laddr add 300.1.2.3` names 300.1.2.3).

Pure apart from reading the files the arguments name. check_args(args) raises BadInput;
what needs the switch's state (is this address present? how many lcores does it have?)
is still checked by the command, after connecting.
"""
from __future__ import annotations

import argparse
import ipaddress
import math
import re
from pathlib import Path

from controller.errors import BadInput
from controller.laddr_ops import _parse_laddrs
from controller.p4names import MAX_PORT
from controller.rules import canonical_ip, hand_filter, mac_to_int
from fdirlab import mask_math
from fdirlab.lab_config import LabConfigError, parse_lab, parse_miss_policy, parse_port_range

_GRPC_ADDR = re.compile(r"(?P<host>[^\s:\[\]]+|\[[0-9a-fA-F:.]+\]):(?P<port>\d{1,5})")


def check_grpc_addr(addr: str) -> None:
    m = _GRPC_ADDR.fullmatch(addr)
    if m is None or not 0 < int(m["port"]) < 65536:
        raise BadInput(f"--grpc-addr {addr!r}: expected HOST:PORT with port 1..65535")


def _file(path: str | None, option: str) -> None:
    if path is not None and Path(path).is_dir():
        raise BadInput(f"{option} {path!r}: is a directory, not a file")
    if path is not None and not Path(path).is_file():
        raise BadInput(f"{option} {path!r}: no such file")


# Bounds of fdirctl's numeric options. A day of seconds is far past any wait the lab needs
# and far below what time.sleep / socket timeouts / gRPC deadlines can hold (time.sleep
# overflows C _PyTime_t near 9.2e9 s); inf and nan are never a number of seconds.
MAX_SECONDS = 86400.0
MAX_COUNT = 1_000_000          # --count refreshes, --batch-size updates per Write


def check_seconds(value: float, option: str, zero_ok: bool) -> None:
    """A finite number of seconds in (0, MAX_SECONDS] ([0, MAX_SECONDS] with zero_ok)."""
    low_ok = value >= 0 if zero_ok else value > 0
    if not (math.isfinite(value) and low_ok and value <= MAX_SECONDS):
        low = "0" if zero_ok else "more than 0"
        raise BadInput(f"{option} {value:g}: must be a finite number of seconds, {low} to {MAX_SECONDS:g}")


def check_count(value: int | None, option: str) -> None:
    if value is not None and not 1 <= value <= MAX_COUNT:
        raise BadInput(f"{option} {value}: must be 1..{MAX_COUNT}")


def check_common(a: argparse.Namespace) -> None:
    if a.grpc_addr is not None:
        check_grpc_addr(a.grpc_addr)
    if a.device_id is not None and not 0 <= a.device_id < 2**64:
        raise BadInput(f"--device-id {a.device_id}: must be 0..2**64-1")
    check_seconds(a.timeout, "--timeout", zero_ok=False)
    check_seconds(a.lock_wait, "--lock-wait", zero_ok=True)
    check_count(a.batch_size, "--batch-size")
    _file(a.lab, "--lab")
    _file(a.p4info, "--p4info")
    _file(a.bmv2_json, "--bmv2-json")
    if a.run_dir is not None and not Path(a.run_dir).is_dir():
        raise BadInput(f"--run-dir {a.run_dir!r}: no such directory")


def _needs_workers(a: argparse.Namespace, what: str) -> None:
    if a.no_workers or (a.lab is None and a.run_dir is None):
        raise BadInput(f"{what} needs the workers: give --lab or --run-dir (and not --no-workers)")


def _lcores(n: int | None, option: str) -> None:
    if n is not None and not 1 <= n <= mask_math.MAX_LCORES:
        raise BadInput(f"lcore count {n} ({option}): must be 1..{mask_math.MAX_LCORES}")


def _port_list(text: str | None, option: str) -> list[int] | None:
    if text is None:
        return None
    out: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise BadInput(f"{option} {text!r}: {part!r} is not a port number or LOW-HIGH range")
        first, last = int(lo), int(hi) if sep else int(lo)
        if first > last:
            raise BadInput(f"{option} {text!r}: bad range {part!r}")
        if last >= MAX_PORT:
            raise BadInput(f"{option} {text!r}: port {last}: switch ports are 0..{MAX_PORT - 1}")
        out += range(first, last + 1)
    dup = next((p for i, p in enumerate(out) if p in out[:i]), None)
    if dup is not None:
        raise BadInput(f"{option} {text!r}: duplicate port {dup}")
    return out


def check_init(a: argparse.Namespace) -> None:
    _lcores(a.lcores, "--lcores")
    lports = _port_list(a.lcore_ports, "--lcore-ports")
    wports = _port_list(a.wire_ports, "--wire-ports")
    if lports is not None:
        if not lports:
            raise BadInput(f"--lcore-ports {a.lcore_ports!r}: no port given")
        _lcores(len(lports), "--lcore-ports count")
        if a.lcores is not None and len(lports) != a.lcores:
            raise BadInput(f"--lcore-ports {a.lcore_ports!r}: {len(lports)} ports for --lcores {a.lcores}")
        if wports is not None and set(lports) & set(wports):
            both = sorted(set(lports) & set(wports))
            raise BadInput(f"--wire-ports {a.wire_ports!r}: duplicate port {both[0]}: "
                           f"it is an lcore port too")
    if a.miss is not None:
        n = len(lports) if lports else (a.lcores or mask_math.MAX_LCORES)
        try:
            parse_miss_policy(a.miss, n, key="--miss")
        except LabConfigError as e:
            raise BadInput(str(e)) from None
    if a.lb_mac is not None:
        mac = mac_to_int(a.lb_mac)
        if mac == 0 or mac >> 40 & 1:
            raise BadInput(f"--lb-mac {a.lb_mac!r}: must be a unicast MAC, not zero")


def laddr_args(a: argparse.Namespace) -> list[str]:
    """The addresses of `laddr add|del`: the positional ones, then --from-file's lines (blank
    lines and `#` comments skipped). The file is read once and the list kept on `a`: it may
    be a pipe or /dev/stdin, which a second read would find empty. BadInput if unreadable."""
    cached: list[str] | None = getattr(a, "_laddr_args", None)
    if cached is not None:
        return list(cached)
    addrs = list(a.addrs)
    if a.from_file is not None:
        try:
            addrs += [ln.strip() for ln in Path(a.from_file).read_text().splitlines()
                      if ln.strip() and not ln.startswith("#")]
        except (OSError, UnicodeDecodeError) as e:
            raise BadInput(f"--from-file {a.from_file!r}: {getattr(e, 'strerror', None) or e}") from None
    a._laddr_args = addrs
    return list(addrs)


def check_laddr(a: argparse.Namespace) -> None:
    if a.sub == "list":
        return
    addrs = laddr_args(a)
    if not addrs:
        raise BadInput("no local address given")
    _parse_laddrs(addrs)
    if a.sub == "add":
        if a.slot is not None:
            if len(a.slot) != len(addrs):
                raise BadInput(f"{len(a.slot)} --slot value(s) for {len(addrs)} address(es)")
            for s in a.slot:
                if not 0 <= s <= 0xFFFF:
                    raise BadInput(f"--slot {s}: must be 0..65535")
            if len(set(a.slot)) != len(a.slot):
                raise BadInput(f"--slot {a.slot}: a slot is given twice")
    elif a.drain is not None:
        check_seconds(a.drain, "--drain", zero_ok=True)
        _needs_workers(a, "--drain")


def check_filter(a: argparse.Namespace) -> None:
    if a.sub == "list":
        return
    addr, _, plen = a.addr.partition("/")
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        raise BadInput(f"--addr {a.addr!r}: not an IPv4 or IPv6 address") from None
    if a.table and (a.table == "fdir_v4") != (ip.version == 4):
        raise BadInput(f"--addr {a.addr!r} is IPv{ip.version} but table {a.table} matches "
                       f"IPv{4 if a.table == 'fdir_v4' else 6} destinations")
    mask = None
    if plen:
        if not plen.isdigit() or int(plen) > ip.max_prefixlen:
            raise BadInput(f"--addr {a.addr!r}: prefix length must be 0..{ip.max_prefixlen}")
        full = (1 << ip.max_prefixlen) - 1
        mask = full ^ (full >> int(plen))
    if a.sub == "add" and a.lcore is not None and not 0 <= a.lcore < mask_math.MAX_LCORES:
        raise BadInput(f"--lcore {a.lcore}: must be 0..{mask_math.MAX_LCORES - 1}")
    to_port = a.to_port if a.sub == "add" and a.to_port is not None else 0
    hand_filter(str(ip), a.port, a.port_mask, a.proto, to_port, a.priority, mask)


def check_show(a: argparse.Namespace) -> None:
    if a.sub == "fdir" and a.laddr is not None:
        canonical_ip(a.laddr, "--laddr")
    if a.sub == "pools":
        _needs_workers(a, "show pools")


def check_schemes(a: argparse.Namespace) -> None:
    _lcores(a.lcores, "--lcores")
    if a.laddrs is not None and not 0 <= a.laddrs <= 1 << 20:
        raise BadInput(f"--laddrs {a.laddrs}: must be 0..{1 << 20}")
    if a.port_range is not None:
        try:
            parse_port_range(a.port_range, "--port-range")
        except LabConfigError as e:
            raise BadInput(str(e)) from None


# Linux dev_valid_name (net/core/dev.c): 1..IFNAMSIZ-1 = 15 bytes, not "." or "..", no '/',
# ':' or white space. The lab takes the shell-safe subset (the name goes into commands to paste).
_IFNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")


def check_ifname(name: str, option: str) -> None:
    """A Linux interface name; BadInput naming it (exit 2) otherwise."""
    if not _IFNAME.fullmatch(name):
        raise BadInput(f"{option} {name!r}: not a Linux interface name "
                       "(1..15 characters of A-Z a-z 0-9 _ . -, not starting with . or -)")


def check_export(a: argparse.Namespace) -> None:
    if a.dev is not None:
        check_ifname(a.dev, "--dev")
    if not 0 <= a.port_id < 1 << 16:
        raise BadInput(f"--port-id {a.port_id}: a DPDK port id is 0..65535")


def check_top(a: argparse.Namespace) -> None:
    check_seconds(a.interval, "--interval", zero_ok=False)
    check_count(a.count, "--count")
    _needs_workers(a, "top")


def check_lcore_arg(a: argparse.Namespace) -> None:
    """`worker restart N`, `rss exclude|include N`: N is an lcore index (the switch's count is
    checked once connected)."""
    if not 0 <= a.lcore < mask_math.MAX_LCORES:
        raise BadInput(f"lcore {a.lcore}: must be 0..{mask_math.MAX_LCORES - 1}")
    if a.cmd == "worker" and a.lab is None and a.run_dir is None:
        raise BadInput("worker restart needs the lab's run directory: give --lab FILE or --run-dir")


def check_output_file(path: str | None, opt: str = "--output") -> None:
    """A file an option will write: not empty, not a directory, in an existing directory."""
    if path is None:
        return
    p = Path(path)
    if not path:
        raise BadInput(f"{opt} '': give a file name")
    if p.is_dir():
        raise BadInput(f"{opt} {path!r}: is a directory, give a file name")
    if not p.resolve().parent.is_dir():
        raise BadInput(f"{opt} {path!r}: no such directory {str(p.parent)!r}")


def check_dpvs_conf(a: argparse.Namespace) -> None:
    _file(a.file, "dpvs.conf")
    check_output_file(a.output)
    if a.name is not None:      # the lab file's own rule for lab.name, told as the option
        try:
            parse_lab({"lab": {"name": a.name}})
        except LabConfigError as e:
            raise BadInput(f"--name {a.name!r}: {str(e).split(': ', 1)[-1]}") from None


def check_args(a: argparse.Namespace) -> None:
    """All of one command line's arguments, before any connection; BadInput (exit 2)."""
    check_common(a)
    if a.cmd == "init":
        check_init(a)
    elif a.cmd == "laddr":
        check_laddr(a)
    elif a.cmd == "filter":
        check_filter(a)
    elif a.cmd == "show":
        check_show(a)
    elif a.cmd == "schemes":
        check_schemes(a)
    elif a.cmd == "reconcile" and a.lab is None:
        raise BadInput("reconcile needs --lab FILE (the desired state)")
    elif a.cmd == "stats":
        _needs_workers(a, "stats")
    elif a.cmd == "export":
        check_export(a)
    elif a.cmd == "dpvs-conf":
        check_dpvs_conf(a)
    elif a.cmd == "top":
        check_top(a)
    elif a.cmd in ("worker", "rss"):
        check_lcore_arg(a)
