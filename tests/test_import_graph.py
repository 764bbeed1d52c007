"""The import graph of our folders, computed from the source (AST), against docs/architecture.md.

Direction: fdirlab/ imports nothing of ours; softswitch/ nothing of ours; controller/ and lcore/
only fdirlab/; topo/ the layers below it; bench/, ptf-tests/ and stf/ on top (the layers below and
topo/); nobody imports tests/. And no import cycle between modules anywhere, counting every
import statement (also those inside functions or under `if TYPE_CHECKING:`).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BASE = {"fdirlab", "softswitch"}
MIDDLE = {"controller", "lcore"}
# folder -> the folders of ours it may import (itself always)
ALLOWED: dict[str, set[str]] = {
    "fdirlab": set(),
    "softswitch": set(),
    "controller": {"fdirlab"},
    "lcore": {"fdirlab"},
    "topo": BASE | MIDDLE,
    "bench": BASE | MIDDLE | {"topo"},
    "ptf-tests": BASE | MIDDLE | {"topo"},
    "stf": BASE | MIDDLE | {"topo"},
}
TESTS = "tests"


@dataclass(frozen=True)
class Edge:
    src: str          # module, e.g. "controller.cli"
    dst: str          # module, or "tests:<name>" for a module that lives under tests/
    where: str        # file:line of the import


def _modules(root: Path, folders: list[str]) -> dict[str, Path]:
    """Module name -> file, for every .py under the given top-level folders."""
    out: dict[str, Path] = {}
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _resolve(name: str, src: str, mods: dict[str, Path], test_stems: set[str]) -> str | None:
    """The module of ours an absolute import name means, None for a library."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):            # the longest prefix that is one of ours
        cand = ".".join(parts[:n])
        if cand in mods:
            return cand
    sibling = ".".join([*src.split(".")[:-1], parts[0]])
    if sibling in mods:                           # a sys.path sibling (ptf-tests' `import fdir_base`)
        return sibling
    if parts[0] == TESTS or parts[0] in test_stems:
        return f"tests:{name}"
    return None


def import_graph(root: Path, folders: list[str]) -> list[Edge]:
    """Every import edge between our modules in `folders` (and into tests/) found in the AST."""
    mods = _modules(root, folders)
    test_stems = {p.stem for p in (root / TESTS).rglob("*.py")} if (root / TESTS).is_dir() else set()
    edges: list[Edge] = []
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    pkg = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    pkg = pkg[: len(pkg) - (node.level - 1)]
                    base = ".".join(pkg + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                # `from pkg import submodule` imports the submodule
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for name in names:
                dst = _resolve(name, mod, mods, test_stems)
                if dst is not None and dst != mod:
                    edges.append(Edge(mod, dst, f"{path.relative_to(root)}:{node.lineno}"))
    return edges


def _folder(mod: str) -> str:
    return mod.split(".")[0]


def wrong_direction(edges: list[Edge], allowed: dict[str, set[str]]) -> list[str]:
    """Imports against the folder direction, and any import of tests/."""
    bad = []
    for e in edges:
        if e.dst.startswith("tests:"):
            bad.append(f"{e.where}: {e.src} imports test code {e.dst[6:]} (nobody imports tests/)")
            continue
        src, dst = _folder(e.src), _folder(e.dst)
        if src != dst and dst not in allowed.get(src, set()):
            bad.append(f"{e.where}: {e.src} imports {e.dst} ({src}/ may import only "
                       f"{', '.join(sorted(allowed.get(src, set()))) or 'nothing of ours'})")
    return bad


def cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        if not e.dst.startswith("tests:"):
            graph.setdefault(e.src, set()).add(e.dst)
            graph.setdefault(e.dst, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


# ----------------------------------------------------------------------------- the repository
def test_repository_has_no_import_cycle():
    edges = import_graph(REPO, sorted(ALLOWED))
    assert len(edges) > 100, "the graph must see the repository's imports"
    assert cycles(edges) == []


def test_repository_imports_follow_the_folder_direction():
    edges = import_graph(REPO, sorted(ALLOWED))
    assert wrong_direction(edges, ALLOWED) == []


def test_every_top_level_package_is_in_the_direction_table():
    """A new top-level package must get its place in ALLOWED (and in docs/architecture.md)."""
    ours = {p.parent.name for p in REPO.glob("*/__init__.py")} | {"ptf-tests"}
    assert ours - {"p4src"} <= set(ALLOWED)


# ----------------------------------------------------------------------- a small fake package
def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_a_cycle_and_wrong_direction_imports_in_a_fake_tree_are_found(tmp_path):
    _write(tmp_path, {
        "fdirlab/__init__.py": "",
        "fdirlab/a.py": "from fdirlab import b\n",
        "fdirlab/b.py": "def f():\n    from . import c\n",          # inside a function counts
        "fdirlab/c.py": "import fdirlab.a\nimport controller.x\n",      # cycle a->b->c->a; upward
        "controller/__init__.py": "",
        "controller/x.py": "from fdirlab.a import f\nimport lcore.y\nimport json\n",
        "lcore/__init__.py": "",
        "lcore/y.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import fdirlab.c\n",
        "topo/__init__.py": "",
        "topo/rig.py": "from controller import x\nfrom softswitch import z\n",
        "softswitch/__init__.py": "",
        "softswitch/z.py": "",
        "bench/__init__.py": "",
        "bench/b.py": "import sys\nsys.path.insert(0, 'tests')\nfrom ss_helpers import Rig\n",
        "tests/ss_helpers.py": "",
    })
    edges = import_graph(tmp_path, sorted(ALLOWED))
    # a->b->c->a, and c->controller.x->lcore.y->c closes a second loop through the same modules
    assert cycles(edges) == [["controller.x", "fdirlab.a", "fdirlab.b", "fdirlab.c", "lcore.y"]]
    bad = wrong_direction(edges, ALLOWED)
    assert sorted(bad) == [
        "bench/b.py:3: bench.b imports test code ss_helpers (nobody imports tests/)",
        "controller/x.py:2: controller.x imports lcore.y (controller/ may import only fdirlab)",
        "fdirlab/c.py:2: fdirlab.c imports controller.x (fdirlab/ may import only nothing of ours)",
    ]


def test_the_fake_tree_passes_once_fixed(tmp_path):
    _write(tmp_path, {
        "fdirlab/__init__.py": "",
        "fdirlab/a.py": "from fdirlab import b\n",
        "fdirlab/b.py": "import json\n",
        "controller/__init__.py": "",
        "controller/x.py": "from fdirlab.a import f\n",
        "topo/__init__.py": "",
        "topo/rig.py": "from controller import x\n",
        "bench/__init__.py": "",
        "bench/b.py": "from topo.rig import Rig\n",
    })
    edges = import_graph(tmp_path, sorted(ALLOWED))
    assert {(e.src, e.dst) for e in edges} == {("fdirlab.a", "fdirlab.b"), ("controller.x", "fdirlab.a"),
                                               ("topo.rig", "controller.x"), ("bench.b", "topo.rig")}
    assert cycles(edges) == []
    assert wrong_direction(edges, ALLOWED) == []
