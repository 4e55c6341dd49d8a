"""The import graph of vidgen/, read from the source with ast (imports inside functions count too, those
under `if TYPE_CHECKING:` do not: annotations only): no circle, inference never reaches training, and evaluation/ only measures (it reaches no training module
but the recipes' TrainConfig, which vidgen.presets names)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "vidgen"
# what serving a model loads: it must run where no training code is wanted (the app's image, a Space)
INFERENCE = ("vidgen.pipeline", "vidgen.checkpoint", "vidgen.compiled", "vidgen.precision", "vidgen.shipped",
             "vidgen.trajectory", "vidgen.diffusion", "vidgen.models", "vidgen.app")
TRAINING = "vidgen.training"
RECIPE_CONFIG = "vidgen.training.config"  # TrainConfig, a plain dataclass the preset table holds


def module_files(package: Path) -> dict[str, tuple[Path, bool]]:
    """{dotted module name: (file, is a package's __init__)} for every .py file under `package`."""
    out = {}
    for f in sorted(package.rglob("*.py")):
        parts = list(f.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (f, is_package)
    return out


def _runtime_nodes(tree: ast.AST):
    """Every node of `tree` but those under `if TYPE_CHECKING:` (imported for annotations only, never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo += node.orelse
            continue
        todo += ast.iter_child_nodes(node)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: the package's modules it imports}; `from .x import name` counts as importing module x.name
    when that is a module, else x."""
    files = module_files(package)
    root = package.name
    graph = {}
    for module, (path, is_package) in files.items():
        targets = set()
        for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = module.split(".") if is_package else module.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    base = ".".join(here + ([base] if base else []))
                targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names}
        graph[module] = {t for t in targets if t in files and t != module and t.split(".")[0] == root}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def with_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """`graph` plus what an import runs besides its module: every package __init__ above it
    (`import vidgen.training.config` runs vidgen/__init__.py and vidgen/training/__init__.py first)."""
    def ancestors(module: str) -> set[str]:
        parts = module.split(".")
        return {".".join(parts[:k]) for k in range(1, len(parts))} & graph.keys()

    return {m: {a for t in targets for a in ({t} | ancestors(t))} - {m} for m, targets in graph.items()}


def reachable(graph: dict[str, set[str]], module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        for w in graph[todo.pop()] - seen:
            seen.add(w)
            todo.append(w)
    return seen


def _under(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in ((prefixes,) if isinstance(prefixes, str) else prefixes))


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_sees_relative_and_absolute_imports(graph):
    assert "vidgen.pipeline" in graph["vidgen.app.streaming"]  # from ..pipeline import Pipeline
    assert "vidgen.checkpoint" in graph["vidgen.evaluation.compare"]  # from .. import checkpoint as ckpt
    assert "vidgen.evaluation.compare" in graph["vidgen.evaluation.compare_report"]  # from .compare import ordered
    assert "vidgen.training.trainer" in graph["vidgen.training.variant_comparison"]


def test_imports_for_annotations_only_are_not_edges(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\nelse:\n    from . import c\n")
    (pkg / "b.py").write_text("def f():\n    from .a import A\n")
    (pkg / "c.py").write_text("")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.c"} and graph["pkg.b"] == {"pkg.a"}


def test_cycles_finds_a_circle_and_only_circles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_circle(graph):
    assert cycles(graph) == []


def test_an_import_runs_the_packages_above_it():
    graph = with_packages({"p": set(), "p.a": {"p.b.c"}, "p.b": set(), "p.b.c": set()})
    assert graph["p.a"] == {"p", "p.b", "p.b.c"}


def test_inference_never_reaches_training(graph):
    graph = with_packages(graph)
    bad = {m: sorted(d for d in reachable(graph, m) if _under(d, TRAINING)) for m in graph if _under(m, INFERENCE)}
    assert {m: d for m, d in bad.items() if d} == {}


def test_evaluation_only_measures(graph):
    """evaluation/ reaches no training module but the recipes' config (through vidgen.presets) and the
    package it sits in (vidgen/training/__init__.py, which imports nothing)."""
    graph = with_packages(graph)
    assert graph_of_init_imports_nothing("training")
    bad = {m: sorted(d for d in reachable(graph, m) if _under(d, TRAINING) and d not in (RECIPE_CONFIG, TRAINING))
           for m in graph if _under(m, "vidgen.evaluation")}
    assert {m: d for m, d in bad.items() if d} == {}


def graph_of_init_imports_nothing(package: str) -> bool:
    """Whether vidgen/<package>/__init__.py imports no module of vidgen (so running it trains nothing)."""
    return import_graph()[f"vidgen.{package}"] == set()
