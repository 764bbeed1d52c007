"""The lcore worker's I/O loop: an AF_PACKET socket on its interface (promiscuous, own
transmissions ignored), the control socket and, in handoff mode, the inbound rings.

One thread, one selector, like a DPDK lcore's run-to-completion loop: receive a burst of
frames, push each through the datapath, transmit what it produced, answer control
requests, expire conns. Frames whose checksum the sending kernel left to offload
(TP_STATUS_CSUMNOTREADY in PACKET_AUXDATA) get their L4 checksum completed first.
"""
from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import struct
import time

from lcore import frames as F
from lcore.auxdata import AUXDATA, PACKET_AUXDATA, SOL_PACKET, parse_auxdata
from lcore.config import WorkerConfig
from lcore.control import ControlHandler, ControlServer, bind_control_socket, release_control_socket
from lcore.datapath import Datapath
from lcore.errors import ConfigError
from lcore.handoff import HandoffNode
from lcore.nat import fix_l4_checksum
from lcore.neighbours import parse_mac

ETH_P_ALL = 0x0003
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_OUTGOING = 4
RX_BURST = 64
ACCEPT_BURST = 16
RCVBUF = 8 << 20
AUX_SPACE = socket.CMSG_SPACE(AUXDATA.size)

log = logging.getLogger("lcore")


def open_packet_socket(iface: str) -> socket.socket:
    try:
        ifindex = socket.if_nametoindex(iface)
    except OSError:
        raise ConfigError(f"--iface {iface!r}: no such interface") from None
    try:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    except PermissionError:
        raise ConfigError("raw sockets need root (CAP_NET_RAW)") from None
    s.bind((iface, ETH_P_ALL))
    mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
    s.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, RCVBUF)        # SO_RCVBUFFORCE (root)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    s.setblocking(False)
    return s


class Worker:
    def __init__(self, cfg: WorkerConfig) -> None:
        self.cfg = cfg
        self.sock = open_packet_socket(cfg.iface)     # first: a bad --iface creates nothing
        # second: claim --ctl before anything shared is touched. HandoffNode resets its inbound
        # rings and purges its lcore's flows, so a refused duplicate must never get that far.
        try:
            ctl_sock = bind_control_socket(cfg.ctl)
        except BaseException:
            self.sock.close()
            raise
        try:
            self.handoff = (HandoffNode(cfg.handoff_dir, cfg.lcore_id, cfg.n_lcores, cfg.handoff_depth,
                                        cfg.handoff_slots)
                            if cfg.mode == "handoff" and cfg.handoff_dir else None)  # validate() requires the dir
            self.dp = Datapath(cfg.lcore_id, cfg.n_lcores, cfg.scheme, parse_mac(cfg.mac),
                               cfg.port_low, cfg.port_high, cfg.pool_hash_size, handoff=self.handoff)
            self.ctl = ControlServer(cfg.ctl, ControlHandler(self.dp, cfg, time.monotonic), sock=ctl_sock)
        except BaseException:
            release_control_socket(cfg.ctl, ctl_sock)
            self.sock.close()
            raise
        self.ctl.on_drop = self.sel_unregister
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, "rx")
        self.sel.register(self.ctl.sock, selectors.EVENT_READ, "accept")
        if self.handoff is not None:
            self.sel.register(self.handoff.fileno(), selectors.EVENT_READ, "handoff")
        self.stopping = False

    def sel_unregister(self, conn: socket.socket) -> None:
        try:
            self.sel.unregister(conn)
        except (KeyError, ValueError):
            pass

    def stop(self, *_: object) -> None:
        self.stopping = True

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info("lcore %d/%d up on %s (%s, %s)", self.cfg.lcore_id, self.cfg.n_lcores,
                 self.cfg.iface, self.cfg.scheme, self.cfg.mode)
        dp = self.dp
        try:
            while not self.stopping:
                for key, mask in self.sel.select(self._timeout()):
                    what = key.data
                    if what == "rx":
                        self._rx_burst()
                    elif what == "handoff":
                        self._handoff_rx()
                    elif what == "accept":
                        for _ in range(ACCEPT_BURST):
                            c = self.ctl.accept()
                            if c is None:
                                break
                            self.sel.register(c, selectors.EVENT_READ, c)
                    else:
                        self._client(key.fileobj, mask)  # type: ignore[arg-type]
                if self.handoff is not None and self.handoff.pending():
                    self._handoff_rx()
                dp.tick(time.monotonic())
        finally:
            self.close()

    def _timeout(self) -> float:
        deadline = self.dp.conns.next_deadline()
        t = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
        if self.handoff is not None:
            t = min(t, 0.05)            # safety net for a missed wake-up byte
        return t

    def _rx_burst(self) -> None:
        dp = self.dp
        sock = self.sock
        now = time.monotonic()
        for _ in range(RX_BURST):
            try:
                data, anc, _flags, addr = sock.recvmsg(65536, AUX_SPACE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                # ENETDOWN and friends: the link went down (a pending socket error, reported
                # once); the worker keeps its conns and pools and waits for the link
                self.dp.stats.drops["rx_error"] += 1
                log.warning("receive on %s failed: %s", self.cfg.iface, exc.strerror or exc)
                break
            if addr[2] == PACKET_OUTGOING:
                continue                    # our own transmissions, looped back to us
            frame = bytearray(data)
            if anc:
                aux = parse_auxdata(anc)
                if aux.vlan_tagged:
                    # the kernel took the 802.1Q tag off into the auxdata: still a tagged
                    # frame, which the workers do not serve (README, "Known limits")
                    dp.rx_tagged(frame)
                    continue
                if aux.csum_not_ready:
                    p = F.parse(frame)
                    if not isinstance(p, str):
                        fix_l4_checksum(frame, p)
            dp.rx(frame, now)
        self._flush_tx()

    def _handoff_rx(self) -> None:
        now = time.monotonic()
        for frame, _value in self.handoff.drain():  # type: ignore[union-attr]
            self.dp.handoff_rx(frame, now)
        self._flush_tx()

    def _flush_tx(self) -> None:
        tx = self.dp.tx
        if not tx:
            return
        sock = self.sock
        for frame in tx:
            try:
                sock.send(frame)
            except OSError as exc:
                # counted, never silent: a full socket buffer or an oversize frame
                self.dp.stats.drops["tx_error"] += 1
                self.dp.stats.packets_out -= 1
                log.debug("send failed: %s", exc)
        tx.clear()

    def _client(self, conn: socket.socket, mask: int) -> None:
        alive = True
        if mask & selectors.EVENT_READ:
            alive = self.ctl.on_readable(conn)
        if alive and mask & selectors.EVENT_WRITE:
            alive = self.ctl.flush(conn)
        if not alive:
            self.sel.unregister(conn)
            self.ctl.drop(conn)
            return
        events = ((selectors.EVENT_READ if self.ctl.wants_read(conn) else 0)
                  | (selectors.EVENT_WRITE if self.ctl.wants_write(conn) else 0))
        self.sel.modify(conn, events or selectors.EVENT_READ, conn)

    def close(self) -> None:
        # handoff first: its lcore owner lock is free before --ctl is, so a successor that
        # claims --ctl next is not refused by the lock of the worker it replaces
        if self.handoff is not None:
            self.handoff.close()
        self.ctl.close()
        self.sock.close()
        self.sel.close()
        log.info("lcore %d stopped (pid %d)", self.cfg.lcore_id, os.getpid())
