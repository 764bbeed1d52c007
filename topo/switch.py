"""Starting and stopping the P4 switch process (BMv2's simple_switch_grpc or softswitch)
for the lab and the PTF runner, with a clear reason when it does not come up."""
from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from topo.errors import SwitchStartError
from topo.pcap_files import complete_empty_pcaps
from topo.portowner import port_holders
from topo.runstate import RunRecord, recorded_owner_of

TARGETS = ("bmv2", "softswitch")
BMV2_BINARY = "simple_switch_grpc"


def resolve_target(target: str) -> str:
    """auto -> bmv2 when simple_switch_grpc is on PATH, else softswitch."""
    if target == "auto":
        return "bmv2" if shutil.which(BMV2_BINARY) else "softswitch"
    if target not in TARGETS:
        raise SwitchStartError(f"unknown switch target {target!r}: use auto, bmv2 or softswitch")
    if target == "bmv2" and not shutil.which(BMV2_BINARY):
        raise SwitchStartError(
            f"target bmv2 needs {BMV2_BINARY} on PATH and it is not there; use --target softswitch")
    return target


def split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        raise SwitchStartError(f"gRPC address {addr!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def port_in_use(addr: str) -> bool:
    """True when another socket holds HOST:PORT (EADDRINUSE). SwitchStartError naming the
    address when it cannot be used for another reason: the host does not resolve, or the
    address is not one of this machine's (EADDRNOTAVAIL)."""
    host, port = split_addr(addr)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise SwitchStartError(f"gRPC address {addr!r}: host {host!r} does not resolve ({e.strerror})") from None
    except (OSError, UnicodeError, OverflowError) as e:
        raise SwitchStartError(f"gRPC address {addr!r}: {e}") from None
    family, _, _, _, sockaddr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(sockaddr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            raise SwitchStartError(f"gRPC address {addr!r}: cannot listen there "
                                   f"({e.strerror or e})") from None
    return False


def check_grpc_addr(addr: str) -> None:
    """The switch can listen on `addr`: SwitchStartError naming the address and, when the
    port is taken, the process holding it (see who_holds)."""
    if port_in_use(addr):
        raise SwitchStartError(f"cannot listen on {addr}: {who_holds(split_addr(addr)[1])}")


def who_holds(port: int) -> str:
    """'the port is in use by pid N (cmdline)', and what to do about it."""
    holders = port_holders(port)
    if not holders:
        return "the port is in use (by no process this user can see; a closing socket?)"
    h = holders[0]
    rec = recorded_owner_of(h.pid)
    if rec is not None and not rec.owner.alive():
        hint = (f"it was started by a {rec.kind} run (pid {rec.owner.pid}) that is gone: "
                f"`make clean` removes it")
    elif rec is not None:
        hint = f"it belongs to the running {rec.kind} {rec.name!r} (pid {rec.owner.pid})"
    else:
        hint = "not started by fdirlab: stop it, or use another --grpc-addr"
    return f"the port is in use by {h.describe()}; {hint}"


@dataclass
class SwitchProcess:
    """One switch process: `ports` maps P4 port numbers to Linux interface names."""

    target: str
    ports: dict[int, str]
    grpc_addr: str = "127.0.0.1:9559"
    device_id: int = 1
    log_path: Path = Path("/tmp/fdirlab/switch.log")
    pcap_dir: Path | None = None
    record: RunRecord | None = field(default=None, repr=False)   # the run that owns it
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def command(self) -> list[str]:
        ifaces = [arg for port, name in sorted(self.ports.items()) for arg in ("-i", f"{port}@{name}")]
        if self.target == "bmv2":
            cmd = [BMV2_BINARY, "--device-id", str(self.device_id), *ifaces, "--no-p4",
                   "--log-console", "-L", "warn"]
            if self.pcap_dir:
                cmd += ["--pcap", str(self.pcap_dir)]
            return cmd + ["--", "--grpc-server-addr", self.grpc_addr]
        cmd = [sys.executable, "-m", "softswitch", "--device-id", str(self.device_id), *ifaces,
               "--no-p4", "--grpc-server-addr", self.grpc_addr]
        if self.pcap_dir:
            cmd += ["--pcap", str(self.pcap_dir)]
        return cmd

    def start(self, timeout: float = 30.0) -> None:
        self.target = resolve_target(self.target)
        if port_in_use(self.grpc_addr):
            raise SwitchStartError(f"{self.target} cannot listen on {self.grpc_addr}: "
                                   f"{who_holds(split_addr(self.grpc_addr)[1])}")
        for name in self.ports.values():
            if not Path(f"/sys/class/net/{name}").exists():
                raise SwitchStartError(f"{self.target}: interface {name} does not exist")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.pcap_dir:
            self.pcap_dir.mkdir(parents=True, exist_ok=True)
        # Own process group: Ctrl-C in the Mininet CLI must not kill the switch under the lab.
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        if self.record is not None:
            self.record.add_proc(self.proc.pid, f"{self.target} on {self.grpc_addr}")
        host, port = split_addr(self.grpc_addr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SwitchStartError(
                    f"{self.target} exited with code {self.proc.returncode} during start-up; "
                    f"last lines of {self.log_path}:\n{self.log_tail()}")
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SwitchStartError(
            f"{self.target} did not open gRPC {self.grpc_addr} within {timeout:.0f}s; "
            f"last lines of {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join("    " + line for line in text[-lines:]) or "    (log is empty)"

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.proc = None
        if self.pcap_dir:
            complete_empty_pcaps(self.pcap_dir, self.ports.values())
