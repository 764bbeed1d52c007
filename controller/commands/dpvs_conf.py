"""`fdirctl dpvs-conf FILE [-o LAB.toml]`: a DPVS dpvs.conf turned into an fdirlab lab file
(fdirlab/dpvs_conf.py maps it). The unmodelled keys are one warning on stderr; a bad value
is `file:line: key: value: why` and exit 2, and no file is written."""
from __future__ import annotations

import sys
from pathlib import Path

import tomli_w

from controller.commands.common import Subparsers, command
from controller.errors import BadInput
from controller.session import Result, Session
from fdirlab import dpvs_conf
from fdirlab.lab_config import LabConfigError, parse_lab


def register(sub: Subparsers) -> None:
    sp = command(sub, "dpvs-conf", "turn a DPVS dpvs.conf into a lab file (no switch needed)")
    sp.add_argument("file", help="the dpvs.conf")
    sp.add_argument("-o", "--output", help="lab file to write (default: print it)")
    sp.add_argument("--name", help="lab name (default: from the file name)")


def lab_toml(path: str, name: str | None = None) -> tuple[str, dpvs_conf.DpvsLab]:
    """The lab file text for a dpvs.conf, checked by the lab parser; and the mapping."""
    d = dpvs_conf.load(path, name)
    try:
        parse_lab(d.lab, path)  # the lab it describes must be valid
    except LabConfigError as e:  # the reader checks what the lab checks; this names the file
        raise dpvs_conf.DpvsConfError(f"{path}: the lab it describes: {e}") from None
    head = [f"# fdirlab lab generated from {path} (fdirctl dpvs-conf)"]
    head += [f"# {n}" for n in d.notes]
    return "\n".join(head) + "\n" + tomli_w.dumps(d.lab), d


def run(session: Session) -> Result:
    a = session.args
    text, d = lab_toml(a.file, a.name)
    if d.warning():
        print(f"warning: {d.warning()}", file=sys.stderr)
    if a.output:
        try:
            Path(a.output).write_text(text)
        except OSError as exc:       # EACCES, ENOSPC, EROFS...: argcheck saw the path only
            raise BadInput(f"--output {a.output!r}: {exc.strerror or exc}") from None
        lab = d.lab
        n, mode = lab["lcores"]["count"], lab["lab"]["steering"]
        msg = f"wrote {a.output}: {n} lcores, steering {mode}"
        return (
            {"output": a.output, "lab": d.lab, "unmodelled": d.unmodelled, "notes": d.notes},
            msg,
            0,
        )
    return {"lab": d.lab, "unmodelled": d.unmodelled, "notes": d.notes}, text.rstrip("\n"), 0
