"""nginx (Debian's) as the lab's HTTP real server: one nginx per real-server host, started
with its own prefix and config in the run directory (never the system service).

The answer keeps the contract of the lab's Python server (`topo/realserver.py`), which the
tests and the clients read: `"<server> <request-uri> from <addr>:<port>\\n"`, where
`<addr>:<port>` is who reached the server -- with full-NAT, the load balancer's local
address and local port ($remote_addr:$remote_port; an IPv6 address in brackets,
`[fd00:fd::200]:1026`, RFC 3986 §3.2.2, through the `map` below). Every answer closes its conn
(keepalive_timeout 0: one HTTP request per TCP conn, like the Python server's
`Connection: close`). Paths under /slow/<seconds>/ (conns held open on purpose) are passed to
the Python server on the loopback, which waits and then answers with the same line, naming
the peer nginx saw (header X-Fdirlab-Peer).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from topo.errors import LabError

NGINX = "/usr/sbin/nginx"
SLOW_PORT_OFFSET = 10000      # the loopback Python server for /slow/ listens on port + this
PEER_HEADER = "X-Fdirlab-Peer"
PEER_VAR = "$fdirlab_peer"        # $remote_addr, an IPv6 one in brackets


@dataclass(frozen=True)
class NginxSite:
    """One real server's nginx: its name (put in every answer), its HTTP ports, its prefix
    directory (config, pid, logs, temp files), and whether to listen on IPv6 too."""
    name: str
    ports: tuple[int, ...]
    prefix: Path
    ipv6: bool = True
    slow_backend: bool = True

    @property
    def conf_path(self) -> Path:
        return self.prefix / "nginx.conf"

    def slow_port(self, port: int) -> int:
        return port + SLOW_PORT_OFFSET


def nginx_binary() -> str | None:
    """Path of Debian's nginx, or None when it is not installed."""
    return shutil.which("nginx") or (NGINX if Path(NGINX).exists() else None)


def _quote(text: str) -> str:
    """An nginx double-quoted string (its parser knows the escapes \\ \" \n)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_conf(site: NginxSite) -> str:
    """The nginx.conf text of one site (pure: no I/O). One process (`master_process off`):
    no privilege switch, no orphaned workers, and its command line names the run directory."""
    p = site.prefix
    servers = []
    for port in site.ports:
        listen = [f"        listen {port} reuseport backlog=4096;"]
        if site.ipv6:
            listen.append(f"        listen [::]:{port} ipv6only=on reuseport backlog=4096;")
        answer = _quote(f"{site.name} $request_uri from {PEER_VAR}:$remote_port\n")
        slow = ""
        if site.slow_backend:
            slow = (f"        location /slow/ {{\n"
                    f"            proxy_pass http://127.0.0.1:{site.slow_port(port)};\n"
                    f"            proxy_set_header {PEER_HEADER} \"{PEER_VAR}:$remote_port\";\n"
                    f"            proxy_read_timeout 120s;\n"
                    f"        }}\n")
        servers.append(
            "    server {\n" + "\n".join(listen) + "\n"
            f"        location / {{ return 200 {answer}; }}\n" + slow + "    }\n")
    return (
        "# written by fdirlab (topo/nginx.py) for one lab run; not the system's nginx\n"
        "daemon off;\n"
        "master_process off;\n"
        "worker_processes 1;\n"
        f"pid {p}/nginx.pid;\n"
        f"error_log {p}/error.log warn;\n"
        "events { worker_connections 8192; multi_accept on; }\n"
        "http {\n"
        "    access_log off;\n"
        "    server_tokens off;\n"
        "    default_type text/plain;\n"
        "    keepalive_timeout 0;\n"
        f"    map $remote_addr {PEER_VAR} {{ \"~:\" \"[$remote_addr]\"; default $remote_addr; }}\n"
        "    lingering_close off;\n"
        f"    client_body_temp_path {p}/tmp/body;\n"
        f"    proxy_temp_path {p}/tmp/proxy;\n"
        f"    fastcgi_temp_path {p}/tmp/fastcgi;\n"
        f"    uwsgi_temp_path {p}/tmp/uwsgi;\n"
        f"    scgi_temp_path {p}/tmp/scgi;\n"
        + "".join(servers) +
        "}\n")


def write_site(site: NginxSite) -> list[str]:
    """Write the prefix directory and config; returns the command line that runs it
    (`nginx -p PREFIX -c CONF -e LOG`, in the foreground)."""
    binary = nginx_binary()
    if binary is None:
        raise LabError("nginx is not installed: run `make setup` (scripts/setup.sh installs it)")
    (site.prefix / "tmp").mkdir(parents=True, exist_ok=True)
    site.conf_path.write_text(render_conf(site))
    return [binary, "-p", str(site.prefix), "-c", str(site.conf_path),
            "-e", str(site.prefix / "error.log")]
