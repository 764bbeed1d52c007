"""Command line of softswitch, with simple_switch_grpc's usual flags.

Errors are one line naming the bad value, with a non-zero exit; SIGINT/SIGTERM stop it cleanly.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import NoReturn

from google.protobuf import text_format
from p4.config.v1 import p4info_pb2

from .device import Device
from .errors import SoftswitchError
from .p4runtime_server import MAX_STREAMS
from .ports import parse_spec
from .switch import Switch

LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL,
          "off": logging.CRITICAL + 10}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        raise SoftswitchError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="softswitch", description="P4Runtime software switch running p4c's BMv2 JSON "
                "(a stand-in for simple_switch_grpc).")
    p.add_argument("json", nargs="?", help="BMv2 JSON to load at start (omit with --no-p4)")
    p.add_argument("-i", "--interface", action="append", default=[], metavar="PORT@IFACE",
                   help="attach Linux interface IFACE as port PORT (repeatable)")
    p.add_argument("--device-id", type=int, default=0)
    p.add_argument("--grpc-server-addr", default="127.0.0.1:9559",
                   help="P4Runtime address (default 127.0.0.1:9559: loopback unless asked)")
    p.add_argument("--no-p4", action="store_true", help="start without a program; wait for P4Runtime")
    p.add_argument("--p4info", help="P4Info (text or binary) for the JSON given at start")
    p.add_argument("--cpu-port", type=int, default=None, help="port number of the CPU (PacketIn/Out)")
    p.add_argument("--pcap", nargs="?", const=".", default=None, metavar="DIR",
                   help="write IFACE_in.pcap/IFACE_out.pcap per port into DIR")
    p.add_argument("-L", "--log-level", default="info", choices=sorted(LEVELS))
    p.add_argument("--log-console", action="store_true", help="log to the console (stderr)")
    p.add_argument("--log-file", help="log to this file")
    p.add_argument("--no-flow-cache", action="store_true", help="run every frame through the pipeline")
    p.add_argument("--max-streams", type=int, default=MAX_STREAMS, metavar="N",
                   help=f"open P4Runtime StreamChannels served at once (default {MAX_STREAMS}); more are "
                        "refused with RESOURCE_EXHAUSTED")
    # Accepted for command-line compatibility with simple_switch_grpc; they have no effect here.
    p.add_argument("--thrift-port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--drop-port", type=int, help=argparse.SUPPRESS)
    return p


def _read_p4info(path: str) -> p4info_pb2.P4Info:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SoftswitchError(f"cannot read P4Info '{path}': {exc.strerror or exc}") from None
    info = p4info_pb2.P4Info()
    try:
        info.ParseFromString(data)
        if not info.tables and not info.actions:
            raise ValueError
    except Exception:
        info = p4info_pb2.P4Info()
        try:
            text_format.Parse(data.decode(), info)
        except Exception as exc:
            raise SoftswitchError(f"P4Info '{path}' is neither binary nor text protobuf: {exc}") from None
    return info


MAX_DEVICE_ID = 2**64 - 1      # P4Runtime spec: device_id is a uint64


def parse_grpc_addr(addr: str) -> tuple[str, int]:
    """'HOST:PORT' (IPv6 as '[::1]:PORT') -> (host, port). SoftswitchError naming the address
    unless the host is non-empty and the port a number in 1..65535 (gRPC would bind port 0 or
    an out-of-range port to some other port and the log would name the wrong one)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host or host in ("[", "[]"):
        raise SoftswitchError(f"--grpc-server-addr {addr!r}: give HOST:PORT (e.g. 127.0.0.1:9559)")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise SoftswitchError(f"--grpc-server-addr {addr!r}: port {port!r} is not a number in 1..65535")
    return host, int(port)


def check_args(args: argparse.Namespace) -> None:
    """SoftswitchError naming the first bad value among the parsed arguments."""
    if args.no_p4 and args.json:
        raise SoftswitchError(f"--no-p4 and a JSON ('{args.json}') were both given")
    if not args.no_p4 and not args.json:
        raise SoftswitchError("give a BMv2 JSON to load, or --no-p4 to wait for P4Runtime")
    if not 0 <= args.device_id <= MAX_DEVICE_ID:
        raise SoftswitchError(f"--device-id {args.device_id}: must be in 0..{MAX_DEVICE_ID} (P4Runtime uint64)")
    parse_grpc_addr(args.grpc_server_addr)
    if args.max_streams < 1:
        raise SoftswitchError(f"--max-streams {args.max_streams}: must be at least 1")
    if args.cpu_port is not None and not 0 <= args.cpu_port < 511:
        raise SoftswitchError(f"bad --cpu-port {args.cpu_port}: must be in 0..510")


def run(argv: list[str]) -> int:
    # simple_switch_grpc takes target options after a lone `--`; accept both forms.
    argv = [a for a in argv if a != "--"]
    args = build_parser().parse_args(argv)
    # Every argument is checked before anything is opened, written or started.
    check_args(args)
    ifaces: dict[int, str] = {}
    for spec in args.interface:
        port, iface = parse_spec(spec)
        if port in ifaces:
            raise SoftswitchError(f"port {port} is already used (by '{ifaces[port]}'), cannot attach '{iface}'")
        ifaces[port] = iface
    handlers: list[logging.Handler] = []
    if args.log_console or not args.log_file:
        handlers.append(logging.StreamHandler(sys.stderr))
    if args.log_file:
        try:
            handlers.append(logging.FileHandler(args.log_file))
        except OSError as exc:
            raise SoftswitchError(f"cannot open --log-file '{args.log_file}': {exc.strerror or exc}") from None
    level = LEVELS[args.log_level] if (args.log_console or args.log_file) else \
        max(LEVELS[args.log_level], logging.WARNING)
    logging.basicConfig(level=level, handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Handlers first: a signal that arrives while the server starts must still stop it cleanly.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    device = Device(args.device_id, args.cpu_port, cache=not args.no_flow_cache)
    if args.json:
        try:
            text = Path(args.json).read_bytes()
        except OSError as exc:
            raise SoftswitchError(f"cannot read JSON '{args.json}': {exc.strerror or exc}") from None
        device.load_json(text, _read_p4info(args.p4info) if args.p4info else None)
    sw = Switch(device, ifaces, args.grpc_server_addr, args.pcap, args.max_streams)
    sw.start()
    logging.getLogger("softswitch").warning(
        "softswitch running: device %d, ports %s, P4Runtime on %s", args.device_id,
        ", ".join(f"{p}@{i}" for p, i in sorted(ifaces.items())) or "none", args.grpc_server_addr)
    while not stop.wait(0.5):
        if not sw.thread.is_alive():
            sw.stop()
            raise SoftswitchError("frame loop stopped unexpectedly (see log)")
    sw.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except SoftswitchError as exc:
        print(f"softswitch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
