"""The result table (rich) and the JSON of a corpus run. Pure apart from printing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from stf.runner import FAIL, PASS, REFUSED, RunResult

STYLE = {PASS: "green", FAIL: "red", REFUSED: "yellow"}


@dataclass
class CorpusResult:
    """results[program][target]; programs in run order; meta: how the run was made."""

    targets: list[str]
    programs: list[str] = field(default_factory=list)
    results: dict[str, dict[str, RunResult]] = field(default_factory=dict)
    meta: dict[str, object] = field(default_factory=dict)

    def add(self, r: RunResult) -> None:
        if r.program not in self.results:
            self.programs.append(r.program)
            self.results[r.program] = {}
        self.results[r.program][r.target] = r

    def totals(self) -> dict[str, dict[str, int]]:
        out = {}
        for t in self.targets:
            c = Counter(self.results[p][t].status for p in self.programs if t in self.results[p])
            out[t] = {PASS: c[PASS], FAIL: c[FAIL], REFUSED: c[REFUSED], "total": sum(c.values())}
        return out

    def relative(self, base: str, other: str) -> tuple[int, int]:
        """(programs `other` passes among those `base` passes, programs `base` passes)."""
        base_pass = [
            p
            for p in self.programs
            if self.results[p].get(base) and self.results[p][base].status == PASS
        ]
        both = [
            p
            for p in base_pass
            if self.results[p].get(other) and self.results[p][other].status == PASS
        ]
        return len(both), len(base_pass)

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "meta": self.meta,
            "targets": self.targets,
            "totals": self.totals(),
            "programs": {
                p: {t: r.to_json() for t, r in self.results[p].items()} for p in self.programs
            },
        }
        if len(self.targets) == 2:
            n, d = self.relative(*self.targets)
            doc["relative"] = {
                "base": self.targets[0],
                "other": self.targets[1],
                "passes": n,
                "of": d,
            }
        return doc


def print_table(
    res: CorpusResult, console: Console | None = None, only_differences: bool = False
) -> None:
    console = console or Console(width=200)
    table = Table(title="p4c STF corpus over P4Runtime", show_lines=False)
    table.add_column("program", no_wrap=True)
    for t in res.targets:
        table.add_column(t, no_wrap=True)
    table.add_column("reason (first target that did not pass)", overflow="fold")
    for p in res.programs:
        row = res.results[p]
        statuses = [row[t].status if t in row else "-" for t in res.targets]
        if only_differences and all(s == PASS for s in statuses):
            continue
        reason = next(
            (f"{t}: {row[t].reason}" for t in res.targets if t in row and row[t].status != PASS), ""
        )
        table.add_row(
            p, *(f"[{STYLE.get(s, '')}]{s}[/]" if s in STYLE else s for s in statuses), reason
        )
    console.print(table)
    for t, c in res.totals().items():
        console.print(
            f"{t:>11}: {c[PASS]} pass, {c[FAIL]} fail, {c[REFUSED]} refused, of {c['total']}"
        )
    if len(res.targets) == 2:
        n, d = res.relative(*res.targets)
        share = f" ({n / d:.2f})" if d else ""
        console.print(
            f"{res.targets[1]} passes {n} of the {d} programs {res.targets[0]} passes{share}"
        )
