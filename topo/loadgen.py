"""Load tools of the lab, run inside client hosts: their command lines and the parsing of
what they print (pure), plus CPU accounting of processes from /proc.

- wrk (Debian): closed-loop HTTP new-conn load, one request per TCP conn
  (`Connection: close`), latency percentiles from its Lua `done()` hook.
- h2load (Debian nghttp2-client) with `--h1 --rate`: open-loop load at a fixed rate of new
  conns (one request each), so latency is measured below saturation without coordinated
  omission; percentiles from its per-request log.
- iperf3 (Debian): bulk TCP and UDP.
- `python -m topo.udpload`: UDP request/response load (topo/udpload.py).
"""
from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")

# wrk's Lua hooks (wrk 4.x API): every request says Connection: close, so every request is
# a new TCP conn through the load balancer; done() prints one JSON line.
WRK_LUA = r'''
wrk.headers["Connection"] = "close"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"wrk": 1, "requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
'''


def write_wrk_script(path: Path) -> Path:
    path.write_text(WRK_LUA)
    return path


def wrk_command(url: str, script: Path, conns: int = 32, seconds: float = 5.0,
                threads: int = 1, timeout_s: float = 2.0) -> list[str]:
    """wrk with `conns` concurrent conns for `seconds` (whole seconds, at least 1)."""
    secs = max(1, round(seconds))
    # wrk can stay stuck in its event loop after -d when every conn stalls in connect (lost
    # SYNs in rss mode): SIGINT then makes it stop and report like at the end of -d.
    # --foreground: timeout stays in the caller's process group, so killing that group (a
    # bench run stopped by SIGTERM, bench/compare.py) takes wrk with it.
    return ["timeout", "--foreground", "-s", "INT", "-k", "2", str(secs + 2),
            "wrk", "-t", str(threads), "-c", str(conns), "-d", f"{secs}s",
            "--timeout", f"{timeout_s:g}s", "-s", str(script), url]


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def ok(self) -> int:
        """Requests answered with a 2xx (wrk counts non-2xx answers in `requests` too)."""
        return max(0, self.requests - self.errors.get("status", 0))

    @property
    def conns_per_s(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, object]:
        return {"requests": self.requests, "ok": self.ok, "seconds": round(self.seconds, 3),
                "conns_per_s": round(self.conns_per_s, 1), "errors": self.errors,
                "p50_ms": self.p50_ms, "p90_ms": self.p90_ms, "p99_ms": self.p99_ms,
                "max_ms": self.max_ms}


def parse_wrk(stdout: str) -> WrkResult:
    """The JSON line of WRK_LUA's done(). Raises ValueError when wrk printed none."""
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith('{"wrk"'):
            d = json.loads(line)
            errors = {k: int(d[f"{k}_errors"]) for k in ("connect", "read", "write", "status")}
            errors["timeout"] = int(d["timeouts"])
            return WrkResult(int(d["requests"]), d["duration_us"] / 1e6, errors,
                             d["p50_us"] / 1e3, d["p90_us"] / 1e3, d["p99_us"] / 1e3,
                             d["max_us"] / 1e3)
    raise ValueError(f"wrk printed no result: {stdout.strip()[-300:]!r}")


def h2load_command(url: str, rate: int, seconds: float, log_path: Path,
                   timeout_s: float = 3.0) -> list[str]:
    """h2load over HTTP/1.1, one request per conn, new conns at `rate` per second spread
    evenly (one conn every 1/rate s: `-r 1 --rate-period`), for `seconds`."""
    n = max(1, int(rate * seconds))
    period_ms = max(1, round(1000 / rate))
    return ["h2load", "--h1", "-n", str(n), "-c", str(n), "-r", "1",
            "--rate-period", f"{period_ms}ms", "-T", f"{timeout_s:g}", "-N", f"{timeout_s:g}",
            "--log-file", str(log_path), url]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


def parse_h2load(stdout: str, log_text: str) -> dict[str, object]:
    """h2load's summary line (requests done/succeeded/failed) and, from its per-request log
    (`start_us<TAB>status<TAB>duration_us`), p50/p99 of the request times in ms."""
    res: dict[str, object] = {}
    for line in stdout.splitlines():
        if line.startswith("requests:"):
            for part in line[len("requests:"):].split(","):
                words = part.split()
                if len(words) == 2 and words[0].isdigit():
                    res[words[1]] = int(words[0])
        elif line.startswith("time for connect:"):
            words = line.split(":", 1)[1].split()
            res["connect_mean_ms"] = _ms(words[2]) if len(words) > 2 else None
    times = []
    for row in log_text.splitlines():
        cols = row.split()
        if len(cols) >= 3 and cols[1].isdigit() and 200 <= int(cols[1]) < 300:
            times.append(int(cols[2]) / 1000)
    if times:
        res.update(p50_ms=round(percentile(times, 50), 3), p99_ms=round(percentile(times, 99), 3),
                   mean_ms=round(statistics.fmean(times), 3))
    res["samples"] = len(times)
    return res


def _ms(text: str) -> float | None:
    for unit, f in (("ms", 1.0), ("us", 1e-3), ("s", 1e3)):
        if text.endswith(unit):
            try:
                return round(float(text[: -len(unit)]) * f, 3)
            except ValueError:
                return None
    return None


def iperf3_command(server: str, seconds: float = 3.0, udp: bool = False,
                   bitrate: str = "50M") -> list[str]:
    secs = max(1, round(seconds))
    cmd = ["timeout", "--foreground", "-k", "2", str(secs + 10), "iperf3", "-c", server, "-t", str(secs), "-J",
           "--connect-timeout", "3000"]
    return cmd + (["-u", "-b", bitrate] if udp else [])


def parse_iperf3(stdout: str) -> dict[str, object]:
    """Mbit/s received (TCP) or delivered with loss (UDP) from `iperf3 -J`."""
    d = json.loads(stdout)
    if "error" in d:
        return {"error": d["error"]}
    end = d["end"]
    if "sum_received" in end:
        return {"mbit_s": round(end["sum_received"]["bits_per_second"] / 1e6, 1),
                "retransmits": end.get("sum_sent", {}).get("retransmits")}
    s = end["sum"]
    return {"mbit_s": round(s["bits_per_second"] / 1e6, 1), "lost_percent": round(s["lost_percent"], 2),
            "jitter_ms": round(s["jitter_ms"], 3)}


# --- CPU accounting ------------------------------------------------------------------------

def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) seconds of a live process, its threads and its reaped children, from
    /proc/<pid>/stat fields 14-17 (utime, stime, cutime, cstime; proc(5)). Raises OSError
    when the process is gone."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): utime is field 14 -> index 11
    user = (int(fields[11]) + int(fields[13])) / CLK_TCK
    system = (int(fields[12]) + int(fields[14])) / CLK_TCK
    return user, system


def cpu_seconds(pid: int) -> float:
    """user + system seconds of a live process (cpu_times)."""
    return sum(cpu_times(pid))


def with_cpu_times(cmd: list[str]) -> list[str]:
    """Wrap a load tool's command so that bash prints, after it exits, the CPU time of its
    children (`times`, second line: user and system) -- read with parse_cpu_times()."""
    return ["bash", "-c", '"$@"; rc=$?; echo "#cpu"; times; exit $rc', "with-cpu", *cmd]


def parse_cpu_times(stdout: str) -> float | None:
    """CPU seconds (user + system) of the children, from the two lines of bash's `times`
    after the `#cpu` marker (`0m0.001s 0m0.002s` for the shell, then for its children)."""
    lines = stdout.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i] == "#cpu" and i + 2 < len(lines):
            total = 0.0
            for word in lines[i + 2].split()[:2]:
                m, _, sec = word.rstrip("s").partition("m")
                total += int(m) * 60 + float(sec)
            return round(total, 3)
    return None
