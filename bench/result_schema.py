"""JSON Schemas (jsonschema, Draft 2020-12) of what `make compare` writes, as far as the
readers index it: compare_tables renders compare.json and head_to_head.json, compare_report
redraws compare.json. A file that is not such a result (`{}`, a list, a record without
its phases) is refused in one line naming the file and the first missing or wrong key,
instead of a KeyError traceback half-way through rendering."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from bench.errors import BenchError


def _obj(*required: str, **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": props}


_NUM = {"type": ["number", "null"]}
_LB_TABLES = _obj("affinity", "handoffs_per_conn", "drop_causes", "spread_max_over_mean", "congestion_drop",
                  drop_causes={"type": "object"})
_PHASE_TABLES = _obj("lb", "cpu_s_per_1k_conns", "load_tool_vs_lb_cpu", lb=_LB_TABLES,
                     cpu_s_per_1k_conns=_obj("workers", "switch"))
_SWEEP = {"type": "array", "items": _obj("offered_rate", "lb", lb=_LB_TABLES)}

#: compare.json as bench.compare_tables reads it
COMPARE_TABLES = _obj("records", records={"type": "array", "items": _obj(
    "case", "saturation", "fixed_rate", saturation=_PHASE_TABLES, fixed_rate=_PHASE_TABLES,
    sweep=_SWEEP, extras={"type": "object"})})

_MEDIANS = _obj("conns_per_s", "conns_per_s_each", "sat_p99_ms", "fixed_p50_ms", "fixed_p99_ms",
                "workers_cpu_s_per_1k", "switch_cpu_s_per_1k", "switch_sys_share", "load_tool_vs_lb_cpu",
                "handoffs_per_conn", "congestion_drop", conns_per_s_each={"type": "array"},
                switch_sys_share=_NUM)
#: head_to_head.json as bench.compare_tables reads it
HEAD_TO_HEAD = _obj("summary", summary=_obj("medians", "ratios", medians={"type": "object",
                                                                            "additionalProperties": _MEDIANS},
                                            ratios={"type": "object"}),
                    failed_cases={"type": "array", "items": _obj("case", "error")})

_LB_REPORT = _obj("affinity", "conns_new", "handoffs_per_conn", "do_handoff", "same_worker", "congestion_drop",
                  "reply_misses", "no_local_port", "drop_causes", "spread_max_over_mean",
                  drop_causes={"type": "object"})
_PHASE_REPORT = _obj("lb", "cpu_s_per_1k_conns", "cpu_share", "load_tool_vs_lb_cpu", lb=_LB_REPORT,
                     cpu_s_per_1k_conns=_obj("workers", "switch"), cpu_share={"type": "object"})
#: compare.json as bench.compare_report (CSV and figures) reads it
COMPARE_REPORT = _obj(
    "plan", "records", "usable_ports",
    plan=_obj("rate", "laddrs"),
    records={"type": "array", "items": _obj(
        "case", "target", "mode", "lcores", "scheme", "saturation", "fixed_rate", "usable_ports",
        lcores={"type": "integer"}, saturation=_PHASE_REPORT, fixed_rate=_PHASE_REPORT,
        sweep={"type": "array", "items": _obj("offered_rate", "lb", lb=_LB_REPORT)},
        usable_ports=_obj("min_per_lcore", "unowned_per_laddr"))},
    usable_ports={"type": "array", "items": _obj("scheme", "lcores", "min_per_lcore", "unowned_per_laddr")})


def load(path: Path, schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON object in `path`, checked against `schema`. BenchError naming the file and
    the first problem (unreadable, not JSON, or the key path and what is wrong there)."""
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise BenchError(f"{path}: {e.strerror or e}") from None
    except ValueError as e:
        raise BenchError(f"{path}: not JSON ({e})") from None
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "top level"
        raise BenchError(f"{path}: not a `make compare` result: at {where}: {err.message}")
    return data


def result_files(path: Path, names: tuple[str, ...]) -> list[Path]:
    """The result files a reader's PATH argument names: [PATH] when PATH is a file called one
    of `names` (e.g. DIR/compare.json), else those of `names` present in the folder PATH, in
    the order of `names`. BenchError in one line naming PATH when it does not exist, is a
    file of another name, or is a folder holding none of them."""
    wanted = " or ".join(names)
    if path.is_dir():
        found = [path / n for n in names if (path / n).exists()]
        if not found:
            raise BenchError(f"no {wanted} in {path}")
        return found
    if not path.exists():
        raise BenchError(f"{path}: no such file or folder (give a results folder or its {wanted})")
    if path.name not in names:
        raise BenchError(f"{path}: not {wanted} (give a results folder or its {wanted})")
    return [path]
