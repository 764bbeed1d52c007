"""The lab's real servers: one socket per port serves IPv4 and IPv6 (the server names the
peer as it was on the wire), and misbehaving clients are bounded: idle connections are
closed, and beyond the connection limit a new one is closed at once (issue 11)."""
import http.client
import socket
import threading

import pytest

from topo import realserver as R


@pytest.fixture
def http_server():
    handler = R.http_handler("rsT")
    handler.timeout = 1.0
    srv = R.DualStackHTTPServer(("::", 0), handler, max_conns=4)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv, srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def get(host, port, path):
    c = http.client.HTTPConnection(host, port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def test_http_on_both_families(http_server):
    _, port = http_server
    status, body = get("127.0.0.1", port, "/v4")
    assert status == 200 and body.startswith("rsT /v4 from 127.0.0.1:")
    status, body = get("::1", port, "/v6")
    assert status == 200 and body.startswith("rsT /v6 from ::1:")


def test_udp_echo_on_both_families():
    sock = R.udp_socket(0)
    port = sock.getsockname()[1]
    t = threading.Thread(target=R.serve_udp_echo, args=("rsU", port, "::", sock), daemon=True)
    t.start()
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(fam, socket.SOCK_DGRAM) as c:
            c.settimeout(5)
            c.sendto(b"ping", (host, port))
            data, frm = c.recvfrom(100)
            assert data == b"rsU ping" and frm[0] == host


def test_idle_and_excess_connections_are_closed(http_server):
    srv, port = http_server
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    extra = socket.create_connection(("::1", port))
    extra.settimeout(5)
    assert extra.recv(10) == b""                      # over the limit: closed at once
    for s in idle:                                    # said nothing for handler.timeout: closed
        s.settimeout(5)
        assert s.recv(10) == b""
        s.close()
    assert srv.refused >= 1
    assert get("127.0.0.1", port, "/after")[0] == 200


def test_peer_addr():
    assert R.peer_addr("::ffff:10.0.0.200") == "10.0.0.200"
    assert R.peer_addr("fd00:fd::200") == "fd00:fd::200" and R.peer_addr("10.0.0.1") == "10.0.0.1"
