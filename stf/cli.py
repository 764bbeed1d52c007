"""`python -m stf`: compile p4c's v1model STF corpus and run it on BMv2 and softswitch.

    python -m stf compile [--p4c-src DIR] [--out DIR] [--select RE]
    python -m stf run     [--p4c-src DIR] [--out DIR] [--select RE] [--targets bmv2,softswitch]
                          [--jobs 2] [--json FILE]
    python -m stf run --programs DIR     # NAME.stf + NAME.json + NAME.p4info.txtpb, no p4c

`run` compiles what is not compiled yet, then runs every program on every target (both targets
of a program side by side, `--jobs` runs at a time), prints the table and writes the JSON.
Exit 0 when the run completed (whatever the verdicts), 2 on bad input or a missing corpus.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from stf.corpus import Compiled, CorpusProgram, compile_program, compile_select, discover, find_samples
from stf.errors import StfError
from stf.parser import Command, parse
from stf.report import CorpusResult, print_table
from stf.runner import FAIL, REFUSED, RunOptions, RunResult, run_program
from stf.tunports import KINDS
from topo.switch import BMV2_BINARY

DEFAULT_OUT = Path(os.environ.get("STF_OUT", "/tmp/fdirlab-stf"))
TARGETS = ("bmv2", "softswitch")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        raise StfError(message)


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m stf", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("compile", "run"):
        p = sub.add_parser(name)
        p.add_argument(
            "--p4c-src",
            help="p4c source tree (default: $P4C_SRC, then "
            "/usr/local/src/p4c, /work/p4build/p4c, ../p4c)",
        )
        p.add_argument(
            "--out",
            type=Path,
            default=DEFAULT_OUT,
            help=f"compiled outputs, logs and results (default {DEFAULT_OUT}; keep it "
            "outside the repository)",
        )
        p.add_argument("--select", help="only programs whose name matches this regular expression")
        p.add_argument("--p4c", default="p4c", help="the p4c binary (default: p4c on PATH)")
        p.add_argument(
            "--jobs", type=int, default=2, help="p4c processes / runs at a time (default 2)"
        )
        if name == "run":
            p.add_argument(
                "--programs",
                type=Path,
                help="run the compiled programs in this directory instead of the corpus",
            )
            p.add_argument(
                "--targets",
                default="auto",
                help="comma-separated: bmv2, softswitch; auto (default): both, or "
                "softswitch alone when simple_switch_grpc is not installed",
            )
            p.add_argument("--json", type=Path, help="results file (default OUT/results.json)")
            p.add_argument(
                "--port-kind",
                choices=KINDS,
                default="tun",
                help="device per STF port (default tun: carries frames of any length)",
            )
            p.add_argument(
                "--out-wait",
                type=float,
                default=3.0,
                help="s to wait for expected frames at the end of a test",
            )
            p.add_argument(
                "--differences",
                action="store_true",
                help="print only programs whose verdicts are not all pass",
            )
            p.add_argument(
                "--lock",
                type=Path,
                help="hold an flock on this file while the switches run (compiling "
                "happens before), e.g. /tmp/fdirlab-root.lock on a shared machine",
            )
            p.add_argument(
                "--softswitch-src",
                type=Path,
                help="run the softswitch/ of this checkout (e.g. another worktree)",
            )
            p.add_argument(
                "--if-present",
                action="store_true",
                help="without p4c or a corpus, say so in one line and exit 0",
            )
    return ap


def _compile_all(
    progs: list[CorpusProgram], out: Path, p4c: str, jobs: int, console: Console
) -> list[Compiled]:
    """Compile (or find compiled) every program, `jobs` p4c processes at a time."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        done = list(pool.map(lambda prog: compile_program(prog, out / "build", p4c), progs))
    for c in done:
        if c.error:
            console.print(f"{c.program.name}: {c.error}", style="yellow", highlight=False)
    return done


def _from_dir(d: Path, select: str | None) -> list[Compiled]:
    if not d.is_dir():
        raise StfError(f"--programs {d}: not a directory")
    out = []
    pat = compile_select(select)
    for stf in sorted(d.glob("*.stf")):
        if pat is not None and not pat.search(stf.stem):
            continue
        prog = CorpusProgram(stf.stem, stf.with_suffix(".p4"), stf)
        c = Compiled(prog, stf.with_suffix(".json"), d / f"{stf.stem}.p4info.txtpb")
        for f in (c.json, c.p4info):
            if not f.is_file():
                raise StfError(f"--programs {d}: {f.name} is missing for {stf.name}")
        out.append(c)
    if not out:
        raise StfError(f"--programs {d}: no .stf file there")
    return out


@contextlib.contextmanager
def _locked(path: Path | None, console: Console) -> Iterator[None]:
    """flock(path) for the duration, if a path is given."""
    if path is None:
        yield
        return
    try:
        f = open(path, "a")  # noqa: SIM115 - closed below, after the lock is released
    except OSError as exc:
        raise StfError(f"--lock {path}: {exc.strerror or exc}") from None
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            console.print(f"stf: waiting for {path} (another root-networking run holds it)")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _version(cmd: list[str]) -> str:
    if shutil.which(cmd[0]) is None:
        return "absent"
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (
            (r.stdout or r.stderr).strip().splitlines()[0]
            if (r.stdout or r.stderr).strip()
            else "?"
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def _git_commit(where: Path) -> str:
    try:
        r = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=where,
            timeout=10,
        )
        return r.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def check_paths(args: argparse.Namespace) -> None:
    """Refuse, before anything is compiled or run, the --select, --out, --json and --lock
    values that would fail later (a traceback after a long run). StfError names the value."""
    compile_select(args.select)
    if args.out.exists() and not args.out.is_dir():
        raise StfError(f"--out {args.out}: not a directory")
    for attr in ("out", "json", "lock"):
        path = getattr(args, attr, None)
        if path is None:
            continue
        if attr != "out" and path.is_dir():
            raise StfError(f"--{attr} {path}: is a directory, give a file")
        parent = path if attr == "out" else path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            raise StfError(f"--{attr} {path}: {parent} is not a writable directory")


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    check_paths(args)
    if args.targets == "auto":
        targets = list(TARGETS) if shutil.which(BMV2_BINARY) else ["softswitch"]
    else:
        targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for t in targets:
        if t not in TARGETS:
            raise StfError(f"unknown target {t!r}: use bmv2 and/or softswitch")
    if "bmv2" in targets and shutil.which(BMV2_BINARY) is None:
        raise StfError(f"target bmv2 needs {BMV2_BINARY} on PATH (or use --targets softswitch)")
    if args.jobs < 1:
        raise StfError(f"--jobs {args.jobs}: must be at least 1")
    if args.softswitch_src is not None:
        if not (args.softswitch_src / "softswitch" / "__main__.py").is_file():
            raise StfError(f"--softswitch-src {args.softswitch_src}: no softswitch/ package there")
        # The switch processes are children started as `python -m softswitch`: they import it
        # from their working directory first, then PYTHONPATH. Paths given are made absolute.
        for attr in ("out", "json", "programs", "lock", "softswitch_src"):
            if getattr(args, attr) is not None:
                setattr(args, attr, getattr(args, attr).resolve())
        if args.p4c_src:
            args.p4c_src = str(Path(args.p4c_src).resolve())
        src = str(args.softswitch_src.resolve())
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [src, os.environ.get("PYTHONPATH")])
        )
        os.chdir(src)
    if os.geteuid() != 0:
        raise StfError("run needs root (TUN devices and the switches' raw sockets)")
    if args.programs:
        compiled = _from_dir(args.programs, args.select)
        source = str(args.programs)
    else:
        try:
            samples = find_samples(args.p4c_src)
            if shutil.which(args.p4c) is None:
                raise StfError(f"{args.p4c} is not on PATH: the corpus cannot be compiled")
        except StfError as exc:
            if not args.if_present:
                raise
            console.print(f"stf: {exc}; nothing run", highlight=False)
            return 0
        progs = discover(samples, args.select)
        if not progs:
            raise StfError(f"no v1model program with an .stf file in {samples}")
        compiled = _compile_all(progs, args.out, args.p4c, args.jobs, console)
        source = str(samples)
    if args.targets == "auto" and targets == ["softswitch"]:
        console.print(f"stf: {BMV2_BINARY} is not installed: running softswitch alone")
    opts = RunOptions(port_kind=args.port_kind, out_wait=args.out_wait, log_dir=args.out / "logs")
    res = CorpusResult(targets)
    res.meta = {
        "source": source,
        "programs": len(compiled),
        "port_kind": args.port_kind,
        "p4c": _version([args.p4c, "--version"]),
        "bmv2": _version([BMV2_BINARY, "--version"]),
        "fdirlab_commit": _git_commit(Path(__file__).resolve().parent),
        "softswitch_src": str(args.softswitch_src or Path(__file__).resolve().parent.parent),
        "softswitch_commit": _git_commit(args.softswitch_src or Path(__file__).resolve().parent),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python -m stf " + " ".join(sys.argv[1:]),
    }
    parsed: dict[str, list[Command] | str] = {}
    for c in compiled:
        try:
            parsed[c.program.name] = parse(
                c.program.stf.read_text(errors="replace"), str(c.program.stf)
            )
        except StfError as exc:
            parsed[c.program.name] = str(exc)
    tasks = [(c, t) for c in compiled for t in targets]
    free_slots = list(range(args.jobs))
    slot_lock = threading.Lock()
    done_lock = threading.Lock()
    total = len(tasks)
    finished = [0]

    def one(task: tuple[Compiled, str]) -> RunResult:
        c, target = task
        name = c.program.name
        cmds = parsed[name]
        if c.error:
            r = RunResult(name, target, REFUSED, c.error)
        elif isinstance(cmds, str):
            r = RunResult(name, target, FAIL, cmds)
        else:
            with slot_lock:
                slot = free_slots.pop()
            try:
                r = run_program(name, cmds, c.p4info, c.json, target, str(slot), opts)
            finally:
                with slot_lock:
                    free_slots.append(slot)
        with done_lock:
            finished[0] += 1
            res.add(r)
            console.print(
                f"[{finished[0]}/{total}] {name} {target}: {r.status}"
                + (f" -- {r.reason}" if r.reason else ""),
                highlight=False,
                soft_wrap=True,
            )
        return r

    with _locked(args.lock, console), ThreadPoolExecutor(max_workers=args.jobs) as pool:
        t0 = time.monotonic()  # the run's time, without the wait for the lock
        list(pool.map(one, tasks))
    res.programs.sort()
    res.meta["seconds"] = round(time.monotonic() - t0, 1)
    print_table(res, Console(width=220), only_differences=args.differences)
    out_json = args.json or args.out / "results.json"
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(res.to_json(), indent=1) + "\n")
    console.print(f"results: {out_json} ({res.meta['seconds']} s)")
    return 0


def cmd_compile(args: argparse.Namespace, console: Console) -> int:
    check_paths(args)
    if args.jobs < 1:
        raise StfError(f"--jobs {args.jobs}: must be at least 1")
    progs = discover(find_samples(args.p4c_src), args.select)
    compiled = _compile_all(progs, args.out, args.p4c, args.jobs, console)
    bad = sum(1 for c in compiled if c.error)
    console.print(
        f"compiled {len(compiled) - bad} of {len(compiled)} programs into {args.out / 'build'}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    console = Console(stderr=True, width=200)
    try:
        args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
        if args.cmd == "run":
            return cmd_run(args, console)
        return cmd_compile(args, console)
    except StfError as exc:
        print(f"stf: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
