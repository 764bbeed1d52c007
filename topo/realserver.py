"""The real servers of the lab, run inside a real-server host: an HTTP server whose answer
names the server, and a UDP echo server that prefixes its name. `python -m topo.realserver`.

Both listen on `::` with IPV6_V6ONLY off, so one socket serves IPv4 and IPv6 clients (an
IPv4 peer shows as its plain address, not `::ffff:a.b.c.d`). Bounded against clients that
misbehave: at most MAX_HTTP_CONNS HTTP connections at once (more are closed at once), and
a connection that sends no complete request within IDLE_TIMEOUT seconds is closed.
"""
from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fdirlab.hostport import host_port
from topo.cliargs import PORT, OneLineParser

MAX_HTTP_CONNS = 256
IDLE_TIMEOUT = 20.0          # seconds to receive a request (http.server's per-socket timeout)
MAX_SLOW = 60.0              # longest /slow/<seconds> hold


def peer_addr(addr: str) -> str:
    """The client's address as it was on the wire: `::ffff:10.0.0.200` -> `10.0.0.200`."""
    try:
        ip = ipaddress.ip_address(addr.split("%")[0])
    except ValueError:
        return addr
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


PEER_HEADER = "X-Fdirlab-Peer"     # set by the nginx in front (topo/nginx.py)


def http_handler(name: str, behind_proxy: bool = False) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = IDLE_TIMEOUT

        def do_GET(self) -> None:
            # /slow/<seconds>/...: hold the conn open that long first (long-lived conns
            # for tests that change local addresses under running traffic).
            parts = self.path.split("/")
            if len(parts) > 2 and parts[1] == "slow":
                try:
                    time.sleep(max(0.0, min(float(parts[2]), MAX_SLOW)))
                except ValueError:
                    pass
            # The client's address as this server sees it is the load balancer's local
            # address and port: full-NAT hides the client, and the lab shows it.
            peer = host_port(peer_addr(self.client_address[0]), self.client_address[1])   # [v6]:port
            if behind_proxy:
                peer = self.headers.get(PEER_HEADER, peer)
            body = f"{name} {self.path} from {peer}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: object) -> None:
            pass

    return Handler


class DualStackHTTPServer(ThreadingHTTPServer):
    """One thread per connection, at most MAX_HTTP_CONNS of them; IPv4 and IPv6 on `::`."""

    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 512

    def __init__(self, addr: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 max_conns: int = MAX_HTTP_CONNS) -> None:
        self.slots = threading.BoundedSemaphore(max_conns)
        self.refused = 0
        super().__init__(addr, handler)

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.refused += 1                     # full: close it now rather than queue a thread
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class LoopbackHTTPServer(DualStackHTTPServer):
    """The same bounds on an IPv4 address (the loopback server behind nginx)."""

    address_family = socket.AF_INET

    def server_bind(self) -> None:
        ThreadingHTTPServer.server_bind(self)


def http_server(name: str, port: int, bind: str = "::", behind_proxy: bool = False) -> ThreadingHTTPServer:
    """An HTTP server bound to `bind`: `::` answers IPv4 and IPv6; an IPv4 address (nginx's
    loopback upstream) only IPv4. behind_proxy: the peer named in answers comes from nginx's
    X-Fdirlab-Peer. OSError when the port cannot be bound."""
    cls = DualStackHTTPServer if ":" in bind else LoopbackHTTPServer
    return cls((bind, port), http_handler(name, behind_proxy))


def serve_http(name: str, port: int, bind: str = "::", behind_proxy: bool = False) -> None:
    http_server(name, port, bind, behind_proxy).serve_forever()


def udp_socket(port: int, bind: str = "::") -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((bind, port))
    return sock


def serve_udp_echo(name: str, port: int, bind: str = "::", sock: socket.socket | None = None) -> None:
    sock = sock or udp_socket(port, bind)
    prefix = f"{name} ".encode()
    while True:
        data, peer = sock.recvfrom(65535)
        try:
            sock.sendto(prefix + data[:65000], peer)
        except OSError:
            pass                                  # an unreachable peer must not stop the server


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m topo.realserver", description="fdirlab real server")
    ap.add_argument("--name", required=True)
    ap.add_argument("--http", type=PORT, action="append", default=[], metavar="PORT")
    ap.add_argument("--http-local", type=PORT, action="append", default=[], metavar="PORT",
                    help="HTTP on 127.0.0.1 behind the host's nginx (its /slow/ paths)")
    ap.add_argument("--udp-echo", type=PORT, action="append", default=[], metavar="PORT")
    args = ap.parse_args(argv)
    if not args.http and not args.udp_echo and not args.http_local:
        ap.error("give at least one --http, --http-local or --udp-echo port")
    # bind every port before serving any: a port that cannot be bound is one line, exit 1
    wanted: list[tuple[str, Callable[[], ThreadingHTTPServer | socket.socket]]] = []
    wanted += [(f"--http {p}", partial(http_server, args.name, p)) for p in args.http]
    wanted += [(f"--http-local {p}", partial(http_server, args.name, p, "127.0.0.1", True))
               for p in args.http_local]
    wanted += [(f"--udp-echo {p}", partial(udp_socket, p)) for p in args.udp_echo]
    threads = []
    for what, make in wanted:
        try:
            srv = make()
        except OSError as e:
            print(f"{ap.prog}: error: {what}: {e.strerror or e}", file=sys.stderr)
            return 1
        if isinstance(srv, socket.socket):
            threads.append(threading.Thread(target=serve_udp_echo, args=(args.name, 0, "::", srv), daemon=True))
        else:
            threads.append(threading.Thread(target=srv.serve_forever, daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
