"""p4c's BMv2 STF corpus: the programs of testdata/p4_16_samples/ that include v1model.p4 and
have a .stf file beside them, and their compiled outputs (BMv2 JSON + P4Info), which live
outside the repository in an output directory of the caller's choice.

Compile command, per program (as the brief of issue 12 gives it; p4c's own driver runs the
same backend, p4c-bm2-ss):
    p4c --target bmv2 --arch v1model --p4runtime-files OUT/NAME.p4info.txtpb -o OUT NAME.p4
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from stf.errors import CorpusError

V1MODEL_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]v1model\.p4[>"]', re.MULTILINE)
SAMPLES = Path("testdata") / "p4_16_samples"
# Where a p4c source tree is looked for when neither --p4c-src nor P4C_SRC says.
DEFAULT_P4C_SRC = (Path("/usr/local/src/p4c"), Path("/work/p4build/p4c"), Path("../p4c"))


@dataclass(frozen=True)
class CorpusProgram:
    name: str
    p4: Path
    stf: Path


@dataclass
class Compiled:
    """A program's outputs, or why p4c could not produce them (`error`, its last line)."""

    program: CorpusProgram
    json: Path
    p4info: Path
    error: str | None = None


def find_samples(p4c_src: str | None) -> Path:
    """testdata/p4_16_samples of the given p4c source tree (or of the first default that has
    one). Raises CorpusError naming the places looked at."""
    cands = (
        [Path(p4c_src)]
        if p4c_src
        else ([Path(os.environ["P4C_SRC"])] if os.environ.get("P4C_SRC") else list(DEFAULT_P4C_SRC))
    )
    for c in cands:
        if (c / SAMPLES).is_dir():
            return c / SAMPLES
        if c.name == "p4_16_samples" and c.is_dir():
            return c
    raise CorpusError(
        "no p4c source tree with testdata/p4_16_samples at "
        + ", ".join(str(c) for c in cands)
        + " (set P4C_SRC or --p4c-src)"
    )


def compile_select(select: str | None) -> re.Pattern[str] | None:
    """The --select regular expression compiled; CorpusError naming it when it is not one."""
    if not select:
        return None
    try:
        return re.compile(select)
    except re.error as exc:
        raise CorpusError(f"--select {select!r}: not a regular expression ({exc})") from None


def discover(samples: Path, select: str | None = None) -> list[CorpusProgram]:
    """Programs with NAME.p4 including v1model.p4 and NAME.stf, sorted by name; `select` is a
    regular expression searched in the name. Raises CorpusError for a bad expression."""
    pat = compile_select(select)
    out = []
    for stf in sorted(samples.glob("*.stf")):
        p4 = stf.with_suffix(".p4")
        if not p4.is_file():
            continue
        try:
            text = p4.read_text(errors="replace")
        except OSError:
            continue
        if not V1MODEL_INCLUDE.search(text):
            continue
        if pat is not None and not pat.search(stf.stem):
            continue
        out.append(CorpusProgram(stf.stem, p4, stf))
    return out


def compile_program(
    prog: CorpusProgram, out_dir: Path, p4c: str = "p4c", timeout: float = 300
) -> Compiled:
    """Compile into out_dir/NAME/ unless outputs newer than the source are there. A failure is
    remembered in out_dir/NAME/p4c.err (removed by the next successful compile)."""
    d = out_dir / prog.name
    json_path, p4info = d / f"{prog.name}.json", d / f"{prog.name}.p4info.txtpb"
    err_path = d / "p4c.err"
    src_mtime = max(prog.p4.stat().st_mtime, prog.stf.stat().st_mtime)
    if json_path.exists() and p4info.exists() and json_path.stat().st_mtime >= src_mtime:
        return Compiled(prog, json_path, p4info)
    if err_path.exists() and err_path.stat().st_mtime >= src_mtime:
        return Compiled(prog, json_path, p4info, _last_line(err_path.read_text()))
    if shutil.which(p4c) is None:
        raise CorpusError(f"{p4c} is not on PATH (needed to compile {prog.name})")
    d.mkdir(parents=True, exist_ok=True)
    cmd = [
        p4c,
        "--target",
        "bmv2",
        "--arch",
        "v1model",
        "--p4runtime-files",
        str(p4info),
        "-o",
        str(d),
        str(prog.p4),
    ]
    try:
        r = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=lambda: os.nice(10)
        )  # shared machine: compile in the background
        rc, text = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired:
        rc, text = -1, f"p4c did not finish within {timeout:.0f}s"
    if rc != 0 or not json_path.exists() or not p4info.exists():
        err_path.write_text(text or f"p4c exited with {rc}")
        return Compiled(prog, json_path, p4info, _last_line(text or f"p4c exited with {rc}"))
    err_path.unlink(missing_ok=True)
    return Compiled(prog, json_path, p4info)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errs = [ln for ln in lines if "error" in ln.lower()]
    return "p4c: " + ((errs or lines or ["failed"])[0])[:200]
