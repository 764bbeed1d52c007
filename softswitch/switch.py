"""The running switch: ports + device + gRPC server + the frame loop thread, and clean shutdown.

The frame loop reads batches from every port, runs them through the pipeline and transmits the results,
all in one thread. (A separate transmit thread was tried and measured: every frame then crossed the
GIL twice, and the lab's new conns/s fell to 0.6x of this loop's; `python -m bench.compare
--head-to-head 3` and `python -m bench.softswitch_bench` show the difference.)
"""
from __future__ import annotations

import collections
import logging
import os
import select
import threading
from dataclasses import dataclass

from .device import Device
from .errors import SoftswitchError
from .p4runtime_server import MAX_STREAMS, P4RuntimeService, serve
from .pcap import PcapSet
from .ports import Port

log = logging.getLogger("softswitch")
BATCH = 64


@dataclass
class LoopStats:
    no_pipeline: int = 0
    no_such_port: int = 0
    to_cpu: int = 0
    injected: int = 0


class Switch:
    def __init__(self, device: Device, ifaces: dict[int, str], grpc_addr: str | None,
                 pcap_dir: str | None = None, max_streams: int = MAX_STREAMS) -> None:
        self.device = device
        self.stats = LoopStats()
        self.ports: dict[int, Port] = {}
        used: dict[str, int] = {}
        for num, iface in ifaces.items():
            if iface in used:
                raise SoftswitchError(f"interface '{iface}' is given twice (ports {used[iface]} and {num})")
            used[iface] = num
        if device.cpu_port is not None and device.cpu_port in ifaces:
            raise SoftswitchError(f"CPU port {device.cpu_port} is also given as an interface port")
        try:
            for num, iface in ifaces.items():
                self.ports[num] = Port.open(num, iface)
        except SoftswitchError:
            self.close_ports()
            raise
        try:
            self.pcap = PcapSet(pcap_dir, ifaces) if pcap_dir else None
        except OSError as exc:
            self.close_ports()
            raise SoftswitchError(f"--pcap '{pcap_dir}': {exc.strerror or exc}") from None
        self.inject_q: collections.deque[bytes] = collections.deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stop = threading.Event()
        self.server = None
        self.service: P4RuntimeService | None = None
        if grpc_addr:
            try:
                self.server, self.service = serve(device, grpc_addr, self.inject, max_streams)
            except SoftswitchError:
                self.close_ports()
                raise
        self.thread = threading.Thread(target=self._loop, name="frame-loop", daemon=True)

    # ----------------------------------------------------------------- control
    def start(self) -> None:
        self.thread.start()

    def inject(self, frame: bytes) -> None:
        """A PacketOut: process the frame as received on the CPU port."""
        self.inject_q.append(frame)
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass

    def summary(self) -> str:
        dp = self.device.dp
        parts = [f"{k}={v}" for k, v in vars(self.stats).items()]
        if dp is not None:
            parts += [f"{k}={v}" for k, v in vars(dp.stats).items()]
            if dp.cache is not None:
                parts += [f"cache_hits={dp.cache.hits}", f"cache_misses={dp.cache.misses}"]
        for p in self.ports.values():
            parts.append(f"port{p.num}(rx={p.stats.rx} tx={p.stats.tx} tx_err={p.stats.tx_errors})")
        return " ".join(parts)

    def stop(self) -> None:
        self._stop.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        if self.server is not None:
            self.server.stop(grace=0.5).wait()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        log.info("frame counters: %s", self.summary())
        self.close_ports()
        if self.pcap is not None:
            self.pcap.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def close_ports(self) -> None:
        for p in self.ports.values():
            p.close()

    # -------------------------------------------------------------- frame loop
    def _loop(self) -> None:
        ep = select.epoll()
        by_fd = {}
        for p in self.ports.values():
            for fd, reader in zip(p.filenos(), (p.recv_batch, p.recv_tagged), strict=False):
                ep.register(fd, select.EPOLLIN)
                by_fd[fd] = (p, reader)
        ep.register(self._wake_r, select.EPOLLIN)
        try:
            while not self._stop.is_set():
                events = ep.poll(0.5)
                for fd, _ in events:
                    if fd == self._wake_r:
                        try:
                            os.read(self._wake_r, 4096)
                        except BlockingIOError:
                            pass
                        continue
                    port, reader = by_fd[fd]
                    frames = reader(BATCH)
                    if frames:
                        self._process(port.num, frames)
                while self.inject_q:
                    frame = self.inject_q.popleft()
                    if self.device.cpu_port is None:
                        continue  # no --cpu-port: PacketOut has nowhere to enter (as in BMv2)
                    self.stats.injected += 1
                    self._process(self.device.cpu_port, [frame])
        except Exception:
            log.exception("frame loop crashed")
            raise
        finally:
            ep.close()

    def _process(self, in_port: int, frames: list[bytes]) -> None:
        pcap = self.pcap
        if pcap is not None and in_port in pcap.rx:
            for f in frames:
                pcap.rx[in_port].write(f)
        out: list[tuple[int, bytes]] = []
        with self.device.lock:
            dp = self.device.dp
            if dp is None:
                self.stats.no_pipeline += len(frames)
                return
            process = dp.process
            for f in frames:
                r = process(in_port, f)
                if r is not None:
                    if r.__class__ is list:   # replicas, clones: zero or more frames
                        out.extend(r)
                    else:
                        out.append(r)
        if out:
            self._transmit(out)

    def _transmit(self, out: list[tuple[int, bytes]]) -> None:
        ports = self.ports
        pcap = self.pcap
        cpu = self.device.cpu_port
        for port_num, frame in out:
            p = ports.get(port_num)
            if p is not None:
                p.send(frame)
                if pcap is not None:
                    pcap.tx[port_num].write(frame)
            elif port_num == cpu and self.service is not None:
                self.stats.to_cpu += 1
                self.service.send_packet_in(frame)
            else:
                self.stats.no_such_port += 1
