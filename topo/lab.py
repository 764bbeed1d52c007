"""The live lab: builds the Mininet network from a lab file, starts the switch, the lcore
workers and the real servers, configures everything through fdirctl, and tears it down."""
from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import tomli_w
from mininet.log import setLogLevel
from mininet.net import Mininet

from fdirlab.lab_config import SWITCH_NODE, Lab, lcore_node, parse_lab, parse_lab_file, read_lab_data
from fdirlab.run_record import RunRecordError, WorkerRecord, pid_runs, read_record, write_record
from topo.cleanup import dead_runs, lab_links
from topo.errors import LabError
from topo.guide import guide_text
from topo.hosts import PYTHON, P4Switch, prepare_host
from topo.nginx import SLOW_PORT_OFFSET, NginxSite, write_site
from topo.rundir import prepare_run_dir
from topo.runstate import RunRecord
from topo.switch import check_grpc_addr, resolve_target

SWITCH_NAME = SWITCH_NODE
STEERING_MODES = ("fdir", "rss", "handoff")
IPERF3_PORT = 5201          # every real server runs `iperf3 -s`; a service may point at it


lcore_host = lcore_node


def worker_argv(lab: Lab, i: int, iface: str, handoff_dir: Path) -> list[str]:
    """The `python -m lcore` arguments of lcore i's worker (lcore/cli.py parses them)."""
    flags = [x for kv in lab.worker_flags().items() for x in kv]
    return ["--iface", iface, "--lcore-id", str(i), "--ctl", lab.socket_path(i),
            "--handoff-dir", str(handoff_dir), *flags]


class LabRun:
    """One running lab. Use as a context manager, or call start() and stop()."""

    def __init__(self, lab_file: str | None = None, target: str | None = None,
                 steering: str | None = None, pcap: bool = False,
                 overrides: dict | None = None, data: dict | None = None,
                 http_server: str = "nginx") -> None:
        """lab_file None means the built-in defaults (or `data`, lab-file data such as a
        dpvs.conf maps to); `steering` and `overrides` ({"lab": {"scheme": "range"}, ...})
        change the file's values for this run.
        http_server: "nginx" (topo/nginx.py) or "python" (topo/realserver.py) answers HTTP."""
        if http_server not in ("nginx", "python"):
            raise LabError(f"http server {http_server!r}: use nginx or python")
        self.http_server = http_server
        raw: dict = dict(data or {})
        if lab_file is not None:
            raw = read_lab_data(lab_file)       # its errors: `lab file 'PATH': why`, once
        for section, values in (overrides or {}).items():
            raw.setdefault(section, {}).update(values)
        if steering is not None:
            raw.setdefault("lab", {})["steering"] = steering
        self.lab_toml = tomli_w.dumps(raw)
        self.lab: Lab = parse_lab_file(raw, lab_file) if lab_file is not None else parse_lab(raw)
        self.lab_file = lab_file
        self.target = resolve_target(target or self.lab.switch.target)
        self.run_dir = Path(self.lab.run_dir)
        self.log_dir = self.run_dir / "logs"
        # pcaps beside the logs, as p4lang's tutorials keep them: <iface>_in.pcap, <iface>_out.pcap
        self.pcap_dir = self.log_dir if pcap else None
        self.net: Any = None                  # the Mininet (no type hints) once built
        self.workers: dict[int, subprocess.Popen] = {}
        self.servers: dict[str, subprocess.Popen] = {}
        self.nginx: dict[str, subprocess.Popen] = {}
        self.fdirctl_log: list[str] = []
        self.record: RunRecord | None = None      # what this run started, for `make clean`
        self.iperf_pids: dict[str, int] = {}

    # --- start ------------------------------------------------------------------------
    def start(self) -> LabRun:
        if os.geteuid() != 0:
            raise LabError("the lab needs root (Mininet network namespaces)")
        left = lab_links()
        if left:
            dead = dead_runs()
            raise LabError(f"a previous lab is still there ({', '.join(left[:3])}...): "
                           + (f"run `make clean` (it removes what {', '.join(dead)} started)" if dead
                              else "it is still running, or was not started by fdirlab"))
        check_grpc_addr(self.lab.switch.grpc_addr)     # before anything changes
        prepare_run_dir(self.run_dir)                  # refuses a directory fdirlab did not make
        self.log_dir.mkdir(parents=True)
        self.record = RunRecord.create("lab", self.lab.name)
        self.record.add_worker_dir(self.run_dir)
        setLogLevel(os.environ.get("FDIRLAB_MININET_LOG", "output"))  # "output": the CLI prints with it
        try:
            self._build()
            self.net.start()                          # also starts the switch process
            self._prepare_hosts()
            self._start_workers()
            self._configure()
            self._start_servers()
        except BaseException:
            self.stop()
            raise
        return self

    def _build(self) -> None:
        lab = self.lab
        net = Mininet(topo=None, controller=None, build=False, autoSetMacs=False,
                      autoStaticArp=False, waitConnected=False)
        rec = self.record
        sw = net.addSwitch(SWITCH_NAME, cls=P4Switch, target=self.target,
                           grpc_addr=lab.switch.grpc_addr, device_id=lab.switch.device_id,
                           log_path=str(self.log_dir / f"{self.target}.log"),
                           pcap_dir=str(self.pcap_dir) if self.pcap_dir else None, record=rec)
        self._record_node(sw)
        prefix = ipaddress.ip_network(lab.subnet).prefixlen
        for i in range(lab.n_lcores):
            h = net.addHost(lcore_host(i), ip=None, mac=lab.lcore_mac(i))
            self._record_node(h)
            self._record_link(net.addLink(h, sw, port2=lab.lcore_port(i)))
        for host in lab.hosts:
            h = net.addHost(host.name, ip=f"{host.ip}/{prefix}", mac=host.mac)
            self._record_node(h)
            self._record_link(net.addLink(h, sw, port2=host.port))
        net.build()
        self.net = net

    def _record_node(self, node) -> None:
        """A Mininet node's shell (`bash ... mininet:<name>`) holds its network namespace."""
        if self.record is not None:
            self.record.add_proc(node.pid, f"mininet:{node.name}")

    def _record_link(self, link) -> None:
        if self.record is not None:
            # the root-namespace (switch) end: deleting it deletes the pair
            self.record.add_link(*(i.name for i in (link.intf1, link.intf2) if not i.node.inNamespace))

    def _record_proc(self, proc: subprocess.Popen, what: str) -> None:
        if self.record is not None:
            self.record.add_proc(proc.pid, what)

    def _prepare_hosts(self) -> None:
        lab = self.lab
        prefix6 = ipaddress.ip_network(lab.subnet6).prefixlen
        for host in lab.hosts:
            prepare_host(self.net[host.name], host.ip6, prefix6)
        for i in range(lab.n_lcores):
            prepare_host(self.net[lcore_host(i)])

    def _start_workers(self) -> None:
        lab = self.lab
        handoff_dir = self.run_dir / "handoff"
        handoff_dir.mkdir(exist_ok=True)
        if self.record is not None:
            self.record.add_dir(handoff_dir)
            for i in range(lab.n_lcores):
                self.record.add_file(lab.socket_path(i))
        for i in range(lab.n_lcores):
            h = self.net[lcore_host(i)]
            cmd = [PYTHON, "-m", "lcore", *worker_argv(lab, i, h.defaultIntf().name, handoff_dir)]
            log_path = self.log_dir / f"lcore-{i}.log"
            with open(log_path, "wb") as log:
                self.workers[i] = h.popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self._record_proc(self.workers[i], f"lcore worker {i}")
            # what `fdirctl worker restart i` needs to start it again in this host
            write_record(self.run_dir, WorkerRecord(i, cmd, os.getcwd(), h.pid, str(log_path),
                                                    self.workers[i].pid))
        deadline = time.monotonic() + 20
        for i, proc in self.workers.items():
            sock = Path(lab.socket_path(i))
            while not sock.exists():
                if proc.poll() is not None:
                    raise LabError(f"lcore worker {i} exited with code {proc.returncode}: "
                                   f"{self._tail(self.log_dir / f'lcore-{i}.log')}")
                if time.monotonic() > deadline:
                    raise LabError(f"lcore worker {i} did not open {sock} within 20s")
                time.sleep(0.05)

    def fdirctl(self, *args: str, check: bool = True) -> str:
        """Run fdirctl against this lab exactly as a user would; returns its output."""
        cmd = [PYTHON, "-m", "controller", "--lab", str(self.run_dir / "lab.toml"), *args]
        self.fdirctl_log.append("fdirctl " + " ".join(args))
        res = subprocess.run(cmd, capture_output=True, text=True, env=self._env())
        if check and res.returncode != 0:
            raise LabError(f"fdirctl {' '.join(args)} failed ({res.returncode}): "
                           f"{(res.stderr or res.stdout).strip()}")
        return res.stdout

    def _configure(self) -> None:
        self._effective_lab_file()
        self.fdirctl("init")
        self.fdirctl("reconcile")        # local addresses (filters, then pools), neighbours, services
        if self.lab.timeouts:            # e.g. a dpvs.conf's ipvs_defs tcp/udp timeouts
            from controller.workers import WorkerSet
            ws = WorkerSet.from_run_dir(str(self.run_dir), self.lab.n_lcores)
            try:
                for c in ws.clients:
                    c.call("set_timeouts", **dict(self.lab.timeouts))
            finally:
                ws.close()

    def _effective_lab_file(self) -> str:
        """The lab file fdirctl reads: the user's, plus this run's overrides (steering...)."""
        path = self.run_dir / "lab.toml"
        path.write_text(self.lab_toml)
        return str(path)

    def _start_servers(self) -> None:
        ports: dict[str, dict[str, set[int]]] = {}
        for svc in self.lab.services:
            for b in svc.backends:
                name = b.server or next((h.name for h in self.lab.servers if h.ip == b.addr or h.ip6 == b.addr), None)
                if name is None or b.port == IPERF3_PORT:   # iperf3 -s answers there
                    continue
                ports.setdefault(name, {"tcp": set(), "udp": set()})[svc.proto].add(b.port)
        for h in self.lab.servers:                 # ports a runbook's ipvsadm -a may name
            for proto, port in self.lab.rs_listen:
                ports.setdefault(h.name, {"tcp": set(), "udp": set()})[proto].add(port)
        for name, by_proto in ports.items():
            cmd = [PYTHON, "-m", "topo.realserver", "--name", name]
            if self.http_server == "nginx" and by_proto["tcp"]:
                self._start_nginx(name, by_proto["tcp"])
                cmd += [a for p in sorted(by_proto["tcp"])
                        for a in ("--http-local", str(p + SLOW_PORT_OFFSET))]
            else:
                cmd += [a for p in sorted(by_proto["tcp"]) for a in ("--http", str(p))]
            cmd += [a for p in sorted(by_proto["udp"]) for a in ("--udp-echo", str(p))]
            with open(self.log_dir / f"{name}.log", "wb") as log:
                self.servers[name] = self.net[name].popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                                          stdin=subprocess.DEVNULL, env=self._env())
            self._record_proc(self.servers[name], f"real server {name}")
        for name in ports:
            # a daemon: its pid comes from its pid file, and only that pid is stopped later
            pidfile = self.run_dir / f"iperf3-{name}.pid"
            self.net[name].cmd(f"iperf3 -s -D -I {pidfile} >/dev/null 2>&1")
            pid = _read_pid(pidfile)
            if pid is not None:
                self.iperf_pids[name] = pid
                if self.record is not None:
                    self.record.add_proc(pid, f"iperf3 -s on {name}")
        time.sleep(0.5)
        for name, proc in self.servers.items():
            if proc.poll() is not None:
                raise LabError(f"real server on {name} exited: {self._tail(self.log_dir / f'{name}.log')}")
        for name, proc in self.nginx.items():
            if proc.poll() is not None:
                raise LabError(f"nginx on {name} exited: "
                               f"{self._tail(self.run_dir / 'nginx' / name / 'error.log')}")

    def _start_nginx(self, name: str, tcp_ports: set[int]) -> None:
        host = self.lab.server(name)
        site = NginxSite(name, tuple(sorted(tcp_ports)), self.run_dir / "nginx" / name,
                         ipv6=host.ip6 is not None)
        cmd = write_site(site)
        with open(self.log_dir / f"{name}-nginx.log", "wb") as log:
            self.nginx[name] = self.net[name].popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                                    stdin=subprocess.DEVNULL)
        self._record_proc(self.nginx[name], f"nginx on {name}")

    # --- use --------------------------------------------------------------------------
    def host(self, name: str):
        return self.net[name]

    def traffic(self, client: str, vip: str, port: int, proto: str = "tcp", count: int = 100,
                parallel: int = 8, timeout: float = 3.0, path_prefix: str = "") -> dict:
        """Real client traffic from a client host; returns the client's JSON result."""
        return self.traffic_result(self.traffic_start(client, vip, port, proto, count, parallel,
                                                      timeout, path_prefix))

    def traffic_start(self, client: str, vip: str, port: int, proto: str = "tcp", count: int = 100,
                      parallel: int = 8, timeout: float = 3.0, path_prefix: str = "") -> subprocess.Popen:
        """The same, in the background: pass the result to traffic_result()."""
        cmd = [PYTHON, "-m", "topo.traffic", "--name", client, "--vip", vip, "--port", str(port),
               "--proto", proto, "--count", str(count), "--parallel", str(parallel),
               "--timeout", str(timeout), "--path-prefix", path_prefix]
        proc = self.net[client].popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=self._env(), text=True)
        self._record_proc(proc, f"traffic client on {client}")
        return proc

    @staticmethod
    def traffic_result(proc: subprocess.Popen) -> dict:
        out, _ = proc.communicate(timeout=600)
        for line in reversed(out.strip().splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        raise LabError(f"client traffic gave no result: {out.strip()[-300:]}")

    def guide(self) -> str:
        return guide_text(self.lab, self.target, self.run_dir, self.log_dir, self.pcap_dir is not None,
                          self.fdirctl_log)

    # --- stop -------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop_restarted_workers()
        procs = list(self.nginx.values()) + list(self.servers.values()) + list(self.workers.values())
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.servers.clear()
        self.nginx.clear()
        self.workers.clear()
        for pid in self.iperf_pids.values():
            _kill_recorded(self.record, pid)
        self.iperf_pids.clear()
        if self.net is not None:
            self.net.stop()
            self.net = None
        if self.record is not None:
            self.record.close()
            self.record = None

    def _stop_restarted_workers(self) -> None:
        """Workers that `fdirctl worker restart` started (not our children): stop each by the
        pid its start record names, only while that pid still runs the recorded command."""
        for i, proc in self.workers.items():
            try:
                rec = read_record(self.run_dir, i)
            except RunRecordError:
                continue
            if rec.pid != proc.pid and pid_runs(rec.pid, rec.argv):
                os.kill(rec.pid, signal.SIGTERM)
                deadline = time.monotonic() + 5
                while pid_runs(rec.pid, rec.argv) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if pid_runs(rec.pid, rec.argv):
                    os.kill(rec.pid, signal.SIGKILL)

    def restart_switch(self) -> None:
        """Stop the switch with SIGKILL (a crash) and start it again on the same ports, with
        no program and no entries, as a restarted NIC comes back."""
        sp = self.net[SWITCH_NAME].process
        if sp.proc is not None:
            os.killpg(sp.proc.pid, signal.SIGKILL)
            sp.proc.wait()
            sp.proc = None
        if sp.log_path.exists():             # keep the crashed run's log
            sp.log_path.rename(sp.log_path.with_suffix(sp.log_path.suffix + ".killed"))
        sp.start()

    def __enter__(self) -> LabRun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- helpers ----------------------------------------------------------------------
    @staticmethod
    def _env() -> dict[str, str]:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        return env

    @staticmethod
    def _tail(path: Path, n: int = 8) -> str:
        try:
            return " | ".join(path.read_text(errors="replace").strip().splitlines()[-n:]) or "(empty log)"
        except OSError:
            return "(no log)"


def _read_pid(path: Path, wait: float = 5.0) -> int | None:
    """The pid a daemon wrote to its pid file (it appears shortly after the fork)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            text = path.read_text().strip()
            if text.isdigit():
                return int(text)
        except OSError:
            pass
        time.sleep(0.05)
    return None


def _kill_recorded(record: RunRecord | None, pid: int) -> None:
    """Stop a process this run started, if it is still that process (pid not reused)."""
    procs = [p for p in (record.procs if record else []) if p.pid == pid]
    if procs and not procs[0].alive():
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
