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
    assert status == 200 and body.startswith("rsT /v6 from [::1]:")      # RFC 3986 brackets


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


def test_nginx_names_an_ipv6_peer_in_brackets(tmp_path):
    """Debian's nginx with the lab's config (topo/nginx.py) on the loopback: an IPv6 peer is
    `[::1]:port`, an IPv4 one `127.0.0.1:port`; topo.traffic reads the address from either."""
    import subprocess
    import time

    from topo.nginx import NginxSite, write_site
    from topo.traffic import http_get
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    cmd = write_site(NginxSite("rsN", (port,), tmp_path / "rsN", ipv6=True, slow_backend=False))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                status, b6 = get("::1", port, "/v6")
                break
            except OSError:
                time.sleep(0.05)
        status4, b4 = get("127.0.0.1", port, "/v4")
        ok6, via6 = http_get("::1", port, "/x", 5.0)
        ok4, via4 = http_get("127.0.0.1", port, "/x", 5.0)
    finally:
        proc.terminate()
        proc.wait(10)
    assert status == 200 and b6.startswith("rsN /v6 from [::1]:"), b6
    assert status4 == 200 and b4.startswith("rsN /v4 from 127.0.0.1:"), b4
    assert (ok6, via6, ok4, via4) == (True, "rsN@::1", True, "rsN@127.0.0.1")
