"""The lab file: a TOML description of one fdirlab lab (lcores, hosts, services, local
addresses, switch), parsed into frozen dataclasses with one-line errors naming the bad key.

Pure: no I/O beyond reading the file. The controller (fdirctl) and the topology (topo/)
both read the same model, so port numbers, MACs and the IP plan are derived here once:

  switch ports  lcore i -> port i + 1, then the clients, then the servers (the wire ports)
  IPv4 plan     one /16 (default 10.0.0.0/16) so every host is on-link to the LB addresses:
                VIP 10.0.0.100, local addresses 10.0.0.200.., clients 10.0.1.k, servers 10.0.2.k
  IPv6 plan     one /64 (default fd00:fd::/64): clients fd00:fd::1:k, servers fd00:fd::2:k
  MACs          LB 02:fd:00:00:00:01, lcore i 02:fd:01:00:HH:LL, clients 02:fd:02:.., servers 02:fd:03:..
"""
from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fdirlab import limits, mask_math
from fdirlab.errors import FdirlabError
from fdirlab.hostport import host_port
from fdirlab.lb_addr import lb_addr_problem
from fdirlab.limits import MAX_WEIGHT, SCHEDULERS
from fdirlab.partition import SCHEMES, Partition
from fdirlab.real_server import duplicate_dest, real_server_problem

STEERING_MODES = ("fdir", "rss", "handoff")
TARGETS = ("auto", "bmv2", "softswitch")
NIC_FDIR_MODES = ("perfect", "signature", "none")
NIC_RSS_TYPES = ("all", "ip", "tcp", "udp", "sctp", "ether", "port", "tunnel")   # DPVS rx rss
NIC_PBALLOC = ("64k", "128k", "256k")
NIC_FDIR_STATUS = ("close", "matched", "always")
# the workers' conn timeouts (lcore/tcp_state.py Timeouts, DPVS defaults); seconds
TIMEOUT_NAMES = ("none", "established", "syn_sent", "syn_recv", "fin_wait", "time_wait", "close",
                 "close_wait", "last_ack", "listen", "synack", "udp")
DEFAULT_HANDOFF_DEPTH = 64                 # VPP frame queue; DPVS redirect rings are 2048
DEFAULT_GRPC_ADDR = "127.0.0.1:9559"
DEFAULT_LB_MAC = "02:fd:00:00:00:01"
DEFAULT_SUBNET = "10.0.0.0/16"
DEFAULT_SUBNET6 = "fd00:fd::/64"
DEFAULT_RUN_ROOT = "/tmp/fdirlab"
LAB_ENV = "FDIRLAB_LAB"     # the running lab's lab file, for fdirctl/ipvsadm/dpip without --lab
MAX_HOST_NAME = limits.MAX_IFNAME - len("-eth0")     # Mininet's interface name <host>-eth0
SWITCH_NODE = "s1"           # the lab's P4 NIC, a Mininet node (topo/lab.py)
# The Mininet prompt reads a line's first word as one of its commands before a node name, so
# a host named like one could not be reached there: Mininet's CLI do_* commands, then the
# lab's own (topo/cli.LabCLI). tests/topo checks this list against both classes.
PROMPT_COMMANDS = frozenset({
    "EOF", "dpctl", "dump", "exit", "gterm", "help", "intfs", "iperf", "iperfudp", "link", "links",
    "net", "nodes", "noecho", "pingall", "pingallfull", "pingpair", "pingpairfull", "ports", "px",
    "py", "quit", "sh", "source", "switch", "time", "wait", "x", "xterm",
    "ipvsadm", "dpip", "fdirctl"})


def lcore_node(i: int) -> str:
    """Mininet node name of lcore i's worker host."""
    return f"l{i}"


_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


class LabConfigError(FdirlabError, ValueError):
    """A lab file that cannot be used; the message names the key and the bad value."""


@dataclass(frozen=True)
class SwitchConfig:
    grpc_addr: str = DEFAULT_GRPC_ADDR
    device_id: int = 1
    target: str = "softswitch"


@dataclass(frozen=True)
class LcoreConfig:
    count: int = 4
    port_low: int = mask_math.DEFAULT_LOW
    port_high: int = mask_math.DEFAULT_HIGH
    pool_hash_size: int = limits.DEFAULT_POOL_HASH_SIZE
    rx_queues: tuple[int, ...] = ()      # NIC rx queue of lcore i (DPVS rx_queue_ids); () = i
    handoff_depth: int = DEFAULT_HANDOFF_DEPTH

    def rx_queue(self, lcore: int) -> int:
        return self.rx_queues[lcore] if self.rx_queues else lcore


@dataclass(frozen=True)
class NicConfig:
    """The NIC as DPVS's dpvs.conf describes it: the device name export uses, the RSS type,
    the flow-director mode (signature adds rte_flow's fuzzy item), pballoc and status."""

    device: str = "dpdk0"
    rss: str = "all"
    fdir_mode: str = "perfect"
    fdir_pballoc: str = "64k"
    fdir_status: str = "matched"


@dataclass(frozen=True)
class MissPolicy:
    """What the NIC does with load-balancer traffic no filter matched: RSS, drop, or
    always one lcore (RSS off, like a NIC with a single queue)."""

    kind: str = "rss"            # rss | drop | lcore
    lcore: int | None = None

    def __str__(self) -> str:
        return f"lcore {self.lcore}" if self.kind == "lcore" else self.kind


@dataclass(frozen=True)
class Host:
    name: str
    ip: str
    mac: str
    ip6: str | None
    port: int                    # switch port (derived)


@dataclass(frozen=True)
class Backend:
    server: str | None           # name of a lab server, when given by name
    addr: str
    port: int
    weight: int = 1


@dataclass(frozen=True)
class Service:
    name: str
    vip: str
    vport: int
    proto: str                   # tcp | udp
    sched: str                   # rr | wrr
    backends: tuple[Backend, ...]
    laddrs: tuple[str, ...]      # the local addresses this service binds from

    def worker_spec(self) -> dict[str, Any]:
        """The `service_add` arguments of the lcore control protocol."""
        return {"vip": self.vip, "vport": self.vport, "proto": self.proto, "sched": self.sched,
                "servers": [{"addr": b.addr, "port": b.port, "weight": b.weight}
                            for b in self.backends],
                "laddrs": list(self.laddrs)}


@dataclass(frozen=True)
class Lab:
    name: str
    steering: str
    scheme: str
    lb_mac: str
    miss: MissPolicy
    switch: SwitchConfig
    lcores: LcoreConfig
    clients: tuple[Host, ...]
    servers: tuple[Host, ...]
    services: tuple[Service, ...]
    laddrs: tuple[str, ...]
    run_dir: str
    subnet: str
    subnet6: str
    source: str = field(default="<defaults>", compare=False)
    nic: NicConfig = NicConfig()
    timeouts: tuple[tuple[str, float], ...] = ()      # (name, seconds) the workers get
    rs_listen: tuple[tuple[str, int], ...] = ()       # (proto, port) every real server serves

    # --- derived --------------------------------------------------------------------
    @property
    def n_lcores(self) -> int:
        return self.lcores.count

    def lcore_port(self, lcore: int) -> int:
        return lcore + 1

    @property
    def lcore_ports(self) -> tuple[int, ...]:
        return tuple(self.lcore_port(i) for i in range(self.n_lcores))

    def lcore_mac(self, lcore: int) -> str:
        return _mac(0x01, lcore + 1)

    @property
    def hosts(self) -> tuple[Host, ...]:
        return self.clients + self.servers

    @property
    def wire_ports(self) -> tuple[int, ...]:
        return tuple(h.port for h in self.hosts)

    @property
    def vips(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for s in self.services:
            seen.setdefault(s.vip)
        return tuple(seen)

    @property
    def partition(self) -> Partition:
        return Partition(self.scheme, self.n_lcores)

    def socket_path(self, lcore: int) -> str:
        return str(Path(self.run_dir) / f"lcore-{lcore}.sock")

    def worker_flags(self) -> dict[str, str]:
        """The `python -m lcore` options this lab file decides for every worker (lcore/cli.py),
        in the order the lab passes them: the lab starts workers with them and
        `fdirctl worker restart` re-applies them, so the two never drift apart."""
        return {"--n-lcores": str(self.n_lcores), "--scheme": self.scheme, "--mode": self.steering,
                "--mac": self.lb_mac, "--port-range": f"{self.lcores.port_low}-{self.lcores.port_high}",
                "--pool-hash-size": str(self.lcores.pool_hash_size),
                "--handoff-depth": str(self.lcores.handoff_depth)}

    def lb_addr_problem(self, addr: str) -> str | None:
        """Why `addr` cannot be a local address or VIP of this lab (fdirlab.lb_addr), or None."""
        hosts = {h.ip: h.name for h in self.hosts}
        hosts.update({h.ip6: h.name for h in self.hosts if h.ip6})
        return lb_addr_problem(addr, self.subnet, self.subnet6, hosts)

    def laddr_slot(self, laddr: str) -> int:
        """The local address's slot: its position among the lab's local addresses of its
        family (laddrs.addrs in order, IPv4 and IPv6 counted apart), as DPVS keeps one sa_pool
        and one set of flow rules per address family (sa_pool.c). Scheme laddr gives slot k
        to lcore k % n. ValueError if `laddr` is not a local address of the lab."""
        fam = [a for a in self.laddrs if ipaddress.ip_address(a).version == ipaddress.ip_address(laddr).version]
        return fam.index(laddr)

    def server(self, name: str) -> Host:
        for h in self.servers:
            if h.name == name:
                return h
        raise KeyError(name)


# --- parsing -----------------------------------------------------------------------

def _mac(group: int, n: int) -> str:
    return f"02:fd:{group:02x}:00:{(n >> 8) & 0xff:02x}:{n & 0xff:02x}"


class _Reader:
    """Walks one TOML table, remembering which keys were used so typos are errors."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise LabConfigError(f"{where}: expected a table, got {data!r}")
        self.data, self.where = data, where
        self.used: set[str] = set()

    def key(self, k: str) -> str:
        return f"{self.where}.{k}" if self.where else k

    def get(self, k: str, typ: type | tuple[type, ...], default: Any) -> Any:
        self.used.add(k)
        if k not in self.data:
            return default
        v = self.data[k]
        if isinstance(v, bool) and typ is not bool and bool not in (typ if isinstance(typ, tuple) else (typ,)):
            raise LabConfigError(f"{self.key(k)} = {v!r}: wrong type")
        if not isinstance(v, typ):
            names = "/".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
            raise LabConfigError(f"{self.key(k)} = {v!r}: expected {names}")
        return v

    def done(self) -> None:
        extra = sorted(set(self.data) - self.used)
        if extra:
            raise LabConfigError(f"{self.key(extra[0])}: unknown key")


def _choice(r: _Reader, k: str, choices: tuple[str, ...], default: str) -> str:
    v: str = r.get(k, str, default)
    if v not in choices:
        raise LabConfigError(f"{r.key(k)} = {v!r}: use one of {', '.join(choices)}")
    return v


def _ip(key: str, v: Any, family: int | None = None) -> str:
    if not isinstance(v, str):
        raise LabConfigError(f"{key} = {v!r}: expected an IP address string")
    try:
        a = ipaddress.ip_address(v.strip())
    except ValueError:
        raise LabConfigError(f"{key} = {v!r}: not an IP address") from None
    if family is not None and a.version != family:
        raise LabConfigError(f"{key} = {v!r}: expected an IPv{family} address")
    return str(a)


def _macv(key: str, v: Any) -> str:
    if not isinstance(v, str) or not _MAC_RE.match(v):
        raise LabConfigError(f"{key} = {v!r}: not a MAC address (aa:bb:cc:dd:ee:ff)")
    if int(v.split(":")[0], 16) & 1:
        raise LabConfigError(f"{key} = {v!r}: a multicast MAC cannot be a host address")
    return v.lower()


def _int(key: str, v: Any, lo: int, hi: int) -> int:
    if v is None:
        raise LabConfigError(f"{key}: missing (an integer {lo}..{hi})")
    if isinstance(v, bool) or not isinstance(v, int):
        raise LabConfigError(f"{key} = {v!r}: expected an integer")
    if not lo <= v <= hi:
        raise LabConfigError(f"{key} = {v}: must be {lo}..{hi}")
    return v


def _name(key: str, v: Any) -> str:
    if not isinstance(v, str) or not _NAME_RE.match(v):
        raise LabConfigError(f"{key} = {v!r}: names are a letter then letters, digits, _ or - (max 32)")
    return v


def _run_dir(v: str) -> str:
    """lab.run_dir: an absolute path, not `/`, without `..` (the lab empties it at start)."""
    if not v.startswith("/"):
        raise LabConfigError(f"lab.run_dir = {v!r}: must be an absolute path (e.g. {DEFAULT_RUN_ROOT}/NAME)")
    parts = v.split("/")
    if ".." in parts:
        raise LabConfigError(f"lab.run_dir = {v!r}: '..' is not allowed")
    if "\0" in v:
        raise LabConfigError(f"lab.run_dir = {v!r}: not a path")
    norm = "/" + str(Path(v)).lstrip("/")          # POSIX keeps a leading "//"; one "/" is the same
    if norm == "/":
        raise LabConfigError(f"lab.run_dir = {v!r}: the root directory cannot be a run directory")
    return norm


def parse_port_range(text: Any, key: str = "lcores.port_range") -> tuple[int, int]:
    if not isinstance(text, str) or not re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", text):
        raise LabConfigError(f"{key} = {text!r}: expected LOW-HIGH, e.g. \"1025-65535\"")
    lo, hi = (int(x) for x in text.split("-"))
    if not 1 <= lo <= hi <= 65535:
        raise LabConfigError(f"{key} = {text!r}: need 1 <= LOW <= HIGH <= 65535")
    return lo, hi


def parse_miss_policy(v: Any, n_lcores: int | None = None, key: str = "lab.miss_policy") -> MissPolicy:
    """`rss`, `drop` or `lcore N` (also `lcore:N`)."""
    if not isinstance(v, str):
        raise LabConfigError(f"{key} = {v!r}: use rss, drop or \"lcore N\"")
    t = v.strip().lower()
    if t in ("rss", "drop"):
        return MissPolicy(t)
    m = re.fullmatch(r"lcore[\s:]+(\d+)", t)
    if not m:
        raise LabConfigError(f"{key} = {v!r}: use rss, drop or \"lcore N\"")
    n = int(m.group(1))
    if n_lcores is not None and n >= n_lcores:
        raise LabConfigError(f"{key} = {v!r}: lcore {n} does not exist ({n_lcores} lcores: 0..{n_lcores - 1})")
    return MissPolicy("lcore", n)


def _hosts(data: Any, key: str, default_count: int, group: int, v4_net: int, v6_net: int,
           subnet4: ipaddress.IPv4Network, subnet6: ipaddress.IPv6Network,
           first_port: int) -> tuple[Host, ...]:
    if data is None:
        data = [{} for _ in range(default_count)]
    if not isinstance(data, list):
        raise LabConfigError(f"{key}: expected an array of tables ([[{key}]])")
    if not data:
        raise LabConfigError(f"{key}: at least one is needed")
    out = []
    prefix = "h" if key == "clients" else "rs"
    base4 = int(subnet4.network_address) + (v4_net << 8)
    base6 = int(subnet6.network_address) + (v6_net << 16)
    for k, item in enumerate(data):
        r = _Reader(item, f"{key}[{k}]")
        name = _name(r.key("name"), r.get("name", str, f"{prefix}{k + 1}"))
        if len(name) > MAX_HOST_NAME:
            # Mininet names the host's interface <name>-eth0, at most 15 characters (IFNAMSIZ)
            raise LabConfigError(f"{r.key('name')} = {name!r}: host names are at most {MAX_HOST_NAME} "
                                 f"characters (its interface {name}-eth0 must fit in {limits.MAX_IFNAME})")
        ip = _ip(r.key("ip"), r.get("ip", str, str(ipaddress.IPv4Address(base4 + k + 1))), 4)
        ip6_raw = r.get("ip6", str, str(ipaddress.IPv6Address(base6 + k + 1)))
        ip6 = _ip(r.key("ip6"), ip6_raw, 6) if ip6_raw else None
        mac = _macv(r.key("mac"), r.get("mac", str, _mac(group, k + 1)))
        r.done()
        if ipaddress.ip_address(ip) not in subnet4:
            raise LabConfigError(f"{key}[{k}].ip = {ip!r}: outside lab.subnet {subnet4} (hosts must be on-link)")
        if ip6 and ipaddress.ip_address(ip6) not in subnet6:
            raise LabConfigError(f"{key}[{k}].ip6 = {ip6!r}: outside lab.subnet6 {subnet6}")
        out.append(Host(name, ip, mac, ip6, first_port + k))
    return tuple(out)


def parse_lab(data: dict[str, Any], source: str = "<defaults>") -> Lab:
    """Build a validated Lab from the TOML data (an empty dict gives the default lab)."""
    top = _Reader(data, "")
    lab = _Reader(top.get("lab", dict, {}), "lab")
    name = _name("lab.name", lab.get("name", str, "default"))
    steering = _choice(lab, "steering", STEERING_MODES, "fdir")
    scheme = _choice(lab, "scheme", SCHEMES, "lsb")
    lb_mac = _macv("lab.lb_mac", lab.get("lb_mac", str, DEFAULT_LB_MAC))
    miss_raw = lab.get("miss_policy", str, "rss")
    run_dir = _run_dir(lab.get("run_dir", str, f"{DEFAULT_RUN_ROOT}/{name}"))
    try:
        subnet4 = ipaddress.IPv4Network(lab.get("subnet", str, DEFAULT_SUBNET))
    except ValueError:
        raise LabConfigError(f"lab.subnet = {lab.data.get('subnet')!r}: not an IPv4 network") from None
    try:
        subnet6 = ipaddress.IPv6Network(lab.get("subnet6", str, DEFAULT_SUBNET6))
    except ValueError:
        raise LabConfigError(f"lab.subnet6 = {lab.data.get('subnet6')!r}: not an IPv6 network") from None
    if subnet4.prefixlen > 16:
        raise LabConfigError(f"lab.subnet = {str(subnet4)!r}: needs at least a /16 for the IP plan")
    if subnet6.prefixlen > 64:
        raise LabConfigError(f"lab.subnet6 = {str(subnet6)!r}: needs at least a /64 for the IP plan")
    rs_listen = []
    for k, item in enumerate(lab.get("rs_listen", list, [])):
        m = re.fullmatch(r"(tcp|udp):(\d{1,5})", item) if isinstance(item, str) else None
        if not m or not 1 <= int(m.group(2)) <= 65535:
            raise LabConfigError(f"lab.rs_listen[{k}] = {item!r}: expected "
                                 f"\"tcp:PORT\" or \"udp:PORT\"")
        rs_listen.append((m.group(1), int(m.group(2))))
    lab.done()

    sw = _Reader(top.get("switch", dict, {}), "switch")
    grpc_addr = sw.get("grpc_addr", str, DEFAULT_GRPC_ADDR)
    if not re.fullmatch(r"[^\s:]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5}", grpc_addr) or \
            not 0 < int(grpc_addr.rsplit(":", 1)[1]) < 65536:
        raise LabConfigError(f"switch.grpc_addr = {grpc_addr!r}: expected HOST:PORT")
    switch = SwitchConfig(grpc_addr, _int("switch.device_id", sw.get("device_id", int, 1), 0, 2**64 - 1),
                          _choice(sw, "target", TARGETS, "softswitch"))
    sw.done()

    lc = _Reader(top.get("lcores", dict, {}), "lcores")
    count = _int("lcores.count", lc.get("count", int, 4), 1, mask_math.MAX_LCORES)
    low, high = parse_port_range(lc.get("port_range", str, f"{mask_math.DEFAULT_LOW}-{mask_math.DEFAULT_HIGH}"))
    hsz = _int("lcores.pool_hash_size", lc.get("pool_hash_size", int, limits.DEFAULT_POOL_HASH_SIZE),
               limits.MIN_POOL_HASH_SIZE, limits.MAX_POOL_HASH_SIZE)
    rxq = lc.get("rx_queues", list, [])
    for k, q in enumerate(rxq):
        _int(f"lcores.rx_queues[{k}]", q, 0, 65535)
    if rxq and len(rxq) != count:
        raise LabConfigError(f"lcores.rx_queues = {rxq!r}: {len(rxq)} queues for {count} lcores")
    if len(set(rxq)) != len(rxq):
        raise LabConfigError(f"lcores.rx_queues = {rxq!r}: a queue belongs to one lcore")
    depth = _int("lcores.handoff_depth",
                 lc.get("handoff_depth", int, DEFAULT_HANDOFF_DEPTH), 1, 65536)
    lc.done()
    lcores = LcoreConfig(count, low, high, hsz, tuple(rxq), depth)
    sock = Path(run_dir) / f"lcore-{count - 1}.sock"          # the longest control socket path
    if len(str(sock).encode()) > limits.MAX_UNIX_PATH:
        raise LabConfigError(f"lab.run_dir = {run_dir!r}: too long, the control socket {str(sock)!r} is "
                             f"{len(str(sock).encode())} bytes, past the {limits.MAX_UNIX_PATH} of an "
                             f"AF_UNIX socket path")
    nr = _Reader(top.get("nic", dict, {}), "nic")
    dev = nr.get("device", str, "dpdk0")
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,15}", dev):
        raise LabConfigError(f"nic.device = {dev!r}: not an interface name")
    nic = NicConfig(dev, _choice(nr, "rss", NIC_RSS_TYPES, "all"),
                    _choice(nr, "fdir_mode", NIC_FDIR_MODES, "perfect"),
                    _choice(nr, "fdir_pballoc", NIC_PBALLOC, "64k"),
                    _choice(nr, "fdir_status", NIC_FDIR_STATUS, "matched"))
    nr.done()
    tr = _Reader(top.get("timeouts", dict, {}), "timeouts")
    timeouts = []
    for tname in TIMEOUT_NAMES:
        v = tr.get(tname, (int, float), None)
        if v is not None:
            if not limits.timeout_ok(v):
                raise LabConfigError(f"timeouts.{tname} = {v!r}: {limits.TIMEOUT_RANGE}")
            timeouts.append((tname, v))
    tr.done()
    miss = parse_miss_policy(miss_raw, count)

    first_client = count + 1
    clients = _hosts(top.get("clients", list, None), "clients", 2, 0x02, 1, 1, subnet4, subnet6, first_client)
    servers = _hosts(top.get("servers", list, None), "servers", 2, 0x03, 2, 2, subnet4, subnet6,
                     first_client + len(clients))
    if servers[-1].port > 511:
        raise LabConfigError(f"lcores.count = {count}: with {len(clients) + len(servers)} hosts the switch "
                             f"needs port {servers[-1].port}, past the 511 the NIC program counts")

    lr = _Reader(top.get("laddrs", dict, {}), "laddrs")
    # two IPv4 and two IPv6 local addresses (the IPv6 ones: <subnet6>::200 and ::201)
    default_laddrs = [str(subnet4.network_address + 200), str(subnet4.network_address + 201),
                      str(subnet6.network_address + 0x200), str(subnet6.network_address + 0x201)]
    raw_laddrs = lr.get("addrs", list, default_laddrs)
    lr.done()
    laddrs = tuple(_ip(f"laddrs.addrs[{i}]", a) for i, a in enumerate(raw_laddrs))

    by_name = {h.name: h for h in servers}
    raw_services = top.get("services", list, None)
    if raw_services is None:
        vip = str(subnet4.network_address + 100)
        vip6 = str(subnet6.network_address + 0x100)
        raw_services = [
            {"name": "web", "vip": vip, "vport": 80, "proto": "tcp", "sched": "rr",
             "servers": [{"server": h.name, "port": 8080} for h in servers]},
            {"name": "dns", "vip": vip, "vport": 5353, "proto": "udp", "sched": "wrr",
             "servers": [{"server": h.name, "port": 5353, "weight": 2 if i == 0 else 1}
                         for i, h in enumerate(servers)]},
        ]
        if all(h.ip6 for h in servers) and any(ipaddress.ip_address(a).version == 6 for a in laddrs):
            # the same two services on IPv6, to the real servers' IPv6 addresses
            raw_services += [
                {"name": "web6", "vip": vip6, "vport": 80, "proto": "tcp", "sched": "rr",
                 "servers": [{"server": h.name, "port": 8080} for h in servers]},
                {"name": "dns6", "vip": vip6, "vport": 5353, "proto": "udp", "sched": "wrr",
                 "servers": [{"server": h.name, "port": 5353, "weight": 2 if i == 0 else 1}
                             for i, h in enumerate(servers)]},
            ]
    services = []
    for k, item in enumerate(raw_services):
        r = _Reader(item, f"services[{k}]")
        sname = _name(r.key("name"), r.get("name", str, f"svc{k + 1}"))
        vip = _ip(r.key("vip"), r.get("vip", str, str(subnet4.network_address + 100)))
        vport = _int(r.key("vport"), r.get("vport", int, None), 1, 65535)
        proto = _choice(r, "proto", tuple(mask_math.PROTOCOLS), "tcp")
        sched = _choice(r, "sched", SCHEDULERS, "rr")
        raw_backends = r.get("servers", list, [{"server": h.name} for h in servers])
        if not raw_backends:
            raise LabConfigError(f"services[{k}].servers: at least one real server is needed")
        backends: list[Backend] = []
        for j, b in enumerate(raw_backends):
            br = _Reader(b, f"services[{k}].servers[{j}]")
            srv = br.get("server", str, None)
            if srv is not None and srv not in by_name:
                raise LabConfigError(f"{br.key('server')} = {srv!r}: no such server (have {', '.join(by_name)})")
            default_addr = by_name[srv].ip if srv else None
            if srv and ipaddress.ip_address(vip).version == 6:
                default_addr = by_name[srv].ip6
            addr = br.get("addr", str, default_addr)
            if addr is None:
                raise LabConfigError(f"services[{k}].servers[{j}]: give server = NAME or addr = IP")
            addr = _ip(br.key("addr"), addr, ipaddress.ip_address(vip).version)
            if srv is not None and addr not in (by_name[srv].ip, by_name[srv].ip6):
                other = next((h.name for h in servers if addr in (h.ip, h.ip6)), None)
                raise LabConfigError(f"{br.key('addr')} = {addr!r}: not the address of server {srv!r} "
                                     f"({by_name[srv].ip6 if ':' in addr else by_name[srv].ip})"
                                     + (f" but of {other!r}" if other else "")
                                     + ": give server = NAME or addr = IP, or both of one host")
            why = real_server_problem(addr, str(subnet4), str(subnet6))    # LB addresses: _check_unique
            if why:
                raise LabConfigError(f"{br.key('addr') if 'addr' in b else br.key('server')} = "
                                     f"{(b.get('addr') or srv)!r}: {addr}: {why}")
            port = _int(br.key("port"), br.get("port", int, vport), 1, 65535)
            weight = _int(br.key("weight"), br.get("weight", int, 1), 0, MAX_WEIGHT)   # as ipvsadm -w
            br.done()
            dup = duplicate_dest(((x.addr, x.port) for x in backends), addr, port)
            if dup is not None:
                raise LabConfigError(f"services[{k}].servers[{j}]: {host_port(addr, port)} is already "
                                     f"services[{k}].servers[{dup}] (a real server is one entry of a "
                                     f"service; give it a weight instead)")
            backends.append(Backend(srv, addr, port, weight))
        if not any(b.weight for b in backends):
            raise LabConfigError(f"services[{k}].servers: every weight is 0, nothing can be scheduled")
        fam = ipaddress.ip_address(vip).version
        svc_laddrs = r.get("laddrs", list, [a for a in laddrs if ipaddress.ip_address(a).version == fam])
        svc_laddrs = [_ip(f"services[{k}].laddrs[{j}]", a) for j, a in enumerate(svc_laddrs)]
        for j, a in enumerate(svc_laddrs):
            if "laddrs" in item and a in svc_laddrs[:j]:
                raise LabConfigError(f"services[{k}].laddrs[{j}] = {a!r}: already "
                                     f"services[{k}].laddrs[{svc_laddrs.index(a)}]")
            if a not in laddrs:
                raise LabConfigError(f"services[{k}].laddrs[{j}] = {a!r}: not one of laddrs.addrs")
            if ipaddress.ip_address(a).version != fam:
                raise LabConfigError(f"services[{k}].laddrs[{j}] = {a!r}: VIP {vip} is IPv{fam}")
        if not svc_laddrs:
            raise LabConfigError(f"services[{k}].laddrs: no IPv{fam} local address for VIP {vip}")
        r.done()
        services.append(Service(sname, vip, vport, proto, sched, tuple(backends), tuple(svc_laddrs)))
    top.done()

    lab_obj = Lab(name, steering, scheme, lb_mac, miss, switch, lcores, clients, servers,
                  tuple(services), laddrs, run_dir, str(subnet4), str(subnet6), source, nic,
                  tuple(timeouts), tuple(rs_listen))
    _check_unique(lab_obj, subnet4, subnet6)
    _check_every_lcore_has_ports(lab_obj)
    return lab_obj


def _check_every_lcore_has_ports(lab: Lab) -> None:
    """Every lcore must be able to bind a conn of every service: RSS hands any lcore new
    flows, and an lcore only binds local ports it owns (DPVS sa_pool.c; the partition decides
    which). Refuse a lab where some lcore owns no port of any of a service's local
    addresses (e.g. scheme laddr with fewer local addresses than lcores, or a port range
    narrower than the lcore count), naming the fix."""
    part, n = lab.partition, lab.n_lcores
    low, high = lab.lcores.port_low, lab.lcores.port_high
    for k, svc in enumerate(lab.services):
        empty = [i for i in range(n)
                 if not any(len(part.owned_ports(i, lab.laddr_slot(a), low, high)) for a in svc.laddrs)]
        if not empty:
            continue
        where = f"services[{k}] ({svc.name}, {svc.proto} {host_port(svc.vip, svc.vport)})"
        if lab.scheme == "laddr":
            fam = ipaddress.ip_address(svc.vip).version
            have = sorted({lab.laddr_slot(a) % n for a in svc.laddrs})
            slots = ", ".join(f"{a} slot {lab.laddr_slot(a)}" for a in svc.laddrs)
            raise LabConfigError(
                f"{where}: with lab.scheme = \"laddr\" the IPv{fam} local address of slot k (its position "
                f"among the IPv{fam} ones of laddrs.addrs) belongs to lcore k % {n} only; this service binds "
                f"{slots}, so lcores {have} have local ports and lcores {empty} none: give it local addresses "
                f"of every slot 0..{n - 1} (services[{k}].laddrs, or more IPv{fam} laddrs.addrs), "
                f"or use scheme lsb or range")
        raise LabConfigError(
            f"{where}: lcores.port_range = \"{low}-{high}\" gives lcores {empty} no local port with scheme "
            f"{lab.scheme} and {n} lcores: widen the port range (default 1025-65535)")


def _check_unique(lab: Lab, subnet4: ipaddress.IPv4Network, subnet6: ipaddress.IPv6Network) -> None:
    """No name, MAC, IP or service is given twice; LB addresses are on-link."""
    seen: dict[str, str] = {}

    def claim(value: str, key: str, kind: str) -> None:
        tag = f"{kind}:{value}"
        if tag in seen and seen[tag] != key:
            raise LabConfigError(f"{key} = {value!r}: already used by {seen[tag]}")
        seen.setdefault(tag, key)

    claim(SWITCH_NODE, "the lab's switch", "name")
    for i in range(lab.n_lcores):
        claim(lcore_node(i), f"lcore {i}'s worker host", "name")
    for group, hosts in (("clients", lab.clients), ("servers", lab.servers)):
        for k, h in enumerate(hosts):
            if h.name in PROMPT_COMMANDS:
                raise LabConfigError(f"{group}[{k}].name = {h.name!r}: a Mininet prompt command, "
                                     "so the prompt could not reach the host by name")
            claim(h.name, f"{group}[{k}].name", "name")
            claim(h.mac, f"{group}[{k}].mac", "mac")
            claim(h.ip, f"{group}[{k}].ip", "ip")
            if h.ip6:
                claim(h.ip6, f"{group}[{k}].ip6", "ip")
    claim(lab.lb_mac, "lab.lb_mac", "mac")
    for i in range(lab.n_lcores):
        claim(lab.lcore_mac(i), f"lcore {i} (derived MAC)", "mac")
    for i, a in enumerate(lab.laddrs):
        claim(a, f"laddrs.addrs[{i}]", "ip")
        why = lab.lb_addr_problem(a)
        if why:
            raise LabConfigError(f"laddrs.addrs[{i}] = {a!r}: {why}")
    svc_keys: dict[tuple[str, int, str], str] = {}
    for k, s in enumerate(lab.services):
        claim(s.name, f"services[{k}].name", "svcname")
        if ("ip:" + s.vip) in seen and not seen["ip:" + s.vip].startswith("services["):
            raise LabConfigError(f"services[{k}].vip = {s.vip!r}: already used by {seen['ip:' + s.vip]}")
        seen.setdefault("ip:" + s.vip, f"services[{k}].vip")
        why = lab.lb_addr_problem(s.vip)
        if why:
            raise LabConfigError(f"services[{k}].vip = {s.vip!r}: {why}")
        sk = (s.vip, s.vport, s.proto)
        if sk in svc_keys:
            raise LabConfigError(f"services[{k}]: {s.proto} {host_port(s.vip, s.vport)} is already {svc_keys[sk]}")
        svc_keys[sk] = f"services[{k}]"
    lb_addrs = set(lab.laddrs) | set(lab.vips)
    for k, s in enumerate(lab.services):
        for j, b in enumerate(s.backends):
            why = real_server_problem(b.addr, None, None, lb_addrs)
            if why:
                raise LabConfigError(f"services[{k}].servers[{j}] = {b.addr!r}: {why}")


def read_lab_data(path: str | Path) -> dict[str, Any]:
    """The TOML data of a lab file, not yet validated (a caller may override keys, then
    parse_lab_file). LabConfigError `lab file 'PATH': No such file or directory` (the OS's
    reason, once) or `lab file 'PATH': not valid TOML: ...`."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise LabConfigError(f"lab file {str(p)!r}: {e.strerror or e}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise LabConfigError(f"lab file {str(p)!r}: not valid TOML: {e}") from None


def parse_lab_file(data: dict[str, Any], path: str | Path) -> Lab:
    """parse_lab of a lab file's data; its errors start with `lab file 'PATH': `."""
    try:
        return parse_lab(data, str(path))
    except LabConfigError as e:
        raise LabConfigError(f"lab file {str(path)!r}: {e}") from None


def load_lab(path: str | Path) -> Lab:
    """Read and validate a lab file; every problem is one LabConfigError line."""
    return parse_lab_file(read_lab_data(path), path)


def default_lab() -> Lab:
    return parse_lab({})
