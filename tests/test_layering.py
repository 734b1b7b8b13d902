"""The code's layers: augmenter -> recognition -> evaluation -> pipelines, never back; no import cycles
between subpackages; a foundation under augmenter that imports no feature.

Imports are read from the source (every ``import`` statement, those inside functions included), so a
lazy import cannot hide a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("augmenter", "recognition", "evaluation", "pipelines")
FOUNDATION = ("augmenter.atomic", "augmenter.checkpoint", "augmenter.device", "augmenter.errors",
              "augmenter.image_dataset", "augmenter.io", "augmenter.metrics", "augmenter.skips", "augmenter.tensors")
"""Modules every feature may import; they import only each other (and the package's ``__version__``)."""


def module_imports() -> dict[str, set[str]]:
    """``{"augmenter.expand.engine": {"augmenter.gan.models", ...}, ...}``: absolute imports of our packages."""
    found = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            targets = set()
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    targets.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets.add(node.module)
            found[name] = {t for t in targets if t.split(".")[0] in LAYERS}
    return found


def unit(module: str) -> str:
    """The package a module belongs to for the cycle check: ``augmenter.expand.engine`` -> ``augmenter.expand``;
    a top-level module is its own unit (``augmenter.align``)."""
    return ".".join(module.split(".")[:2])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_no_layer_imports_a_later_one():
    upward = [(module, target) for module, targets in module_imports().items() for target in targets
              if LAYERS.index(target.split(".")[0]) > LAYERS.index(module.split(".")[0])]
    assert not upward, f"imports against the layering {' -> '.join(LAYERS)}: {upward}"


def test_no_import_cycle_between_packages():
    graph: dict[str, set[str]] = {}
    for module, targets in module_imports().items():
        graph.setdefault(unit(module), set()).update(unit(t) for t in targets if unit(t) != unit(module))
    assert not cycles(graph), f"import cycles between packages: {cycles(graph)}"


def test_the_foundation_imports_no_feature():
    imports = module_imports()
    leaks = {module: sorted(t for t in imports[module] if t not in FOUNDATION and t != "augmenter")
             for module in FOUNDATION}
    assert not any(leaks.values()), f"foundation modules importing features: {leaks}"


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
