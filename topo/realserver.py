"""The real servers of the lab, run inside a real-server host: an HTTP server whose answer
names the server, and a UDP echo server that prefixes its name. `python -m topo.realserver`."""
from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


PEER_HEADER = "X-Fdirlab-Peer"     # set by the nginx in front (topo/nginx.py)


def http_handler(name: str, behind_proxy: bool = False) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            # /slow/<seconds>/...: hold the conn open that long first (long-lived conns
            # for tests that change local addresses under running traffic).
            parts = self.path.split("/")
            if len(parts) > 2 and parts[1] == "slow":
                try:
                    time.sleep(min(float(parts[2]), 60.0))
                except ValueError:
                    pass
            # The client's address as this server sees it is the load balancer's local
            # address and port: full-NAT hides the client, and the lab shows it.
            peer = f"{self.client_address[0]}:{self.client_address[1]}"
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


def serve_http(name: str, port: int, bind: str = "", behind_proxy: bool = False) -> None:
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 512
    srv = ThreadingHTTPServer((bind, port), http_handler(name, behind_proxy))
    srv.serve_forever()


def serve_udp_echo(name: str, port: int, bind: str = "") -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((bind, port))
    prefix = f"{name} ".encode()
    while True:
        data, peer = sock.recvfrom(65535)
        sock.sendto(prefix + data, peer)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fdirlab real server")
    ap.add_argument("--name", required=True)
    ap.add_argument("--http", type=int, action="append", default=[], metavar="PORT")
    ap.add_argument("--http-local", type=int, action="append", default=[], metavar="PORT",
                    help="HTTP on 127.0.0.1 behind the host's nginx (its /slow/ paths)")
    ap.add_argument("--udp-echo", type=int, action="append", default=[], metavar="PORT")
    args = ap.parse_args(argv)
    if not args.http and not args.udp_echo and not args.http_local:
        ap.error("give at least one --http, --http-local or --udp-echo port")
    threads = [threading.Thread(target=serve_http, args=(args.name, p), daemon=True) for p in args.http]
    threads += [threading.Thread(target=serve_http, args=(args.name, p, "127.0.0.1", True), daemon=True)
                for p in args.http_local]
    threads += [threading.Thread(target=serve_udp_echo, args=(args.name, p), daemon=True)
                for p in args.udp_echo]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
