"""The project's import graph, read from the source of every module (also imports inside functions):
no module imports one of a higher layer (experiments -> deployment -> training -> models, audiodata -> dyconv;
within training: the recipe -> monitor, reports -> engine), and no two modules import each other, directly or
through others."""
import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package -> the project packages it may import (besides itself)
ALLOWED = {
    "dyconv": set(),
    "audiodata": set(),
    "models": {"dyconv"},
    "training": {"models", "audiodata", "dyconv"},
    "deployment": {"training", "models", "audiodata", "dyconv"},
    "experiments": {"deployment", "training", "models", "audiodata", "dyconv"},
    "benchmarks": {"training", "models", "audiodata", "dyconv"},
}


def _modules():
    """Dotted module name -> file, for every module of the packages above."""
    found = {}
    for package in ALLOWED:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name, path):
    """The project modules ``name`` imports (a ``from P import X`` names P.X when that is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:  # `import a.b.c` where a.b.c is an attribute: the nearest module
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_the_graph_was_read():
    assert len(MODULES) > 50 and GRAPH["experiments.train"], "expected the project's modules and their imports"


def test_no_module_imports_a_higher_layer():
    upward = [f"{a} imports {b}" for a, targets in GRAPH.items() for b in targets
              if b.split(".")[0] != a.split(".")[0] and b.split(".")[0] not in ALLOWED[a.split(".")[0]]]
    assert not upward, "expected imports only downwards (experiments -> deployment -> training -> models, audiodata " \
        "-> dyconv), got: " + "; ".join(sorted(upward))


# training's sub-packages -> those they may import besides themselves; "recipe" = training's own top-level modules
TRAINING_LAYERS = {
    "engine": set(),
    "monitor": {"engine", "reports.paper"},
    "reports": {"engine"},
    "recipe": {"engine", "monitor", "reports"},
}


def _training_layer(module):
    """The part of training/ that ``module`` belongs to: engine, monitor, reports, or the recipe (top level)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in TRAINING_LAYERS else "recipe"


def _may_import(layer, module):
    allowed = TRAINING_LAYERS[layer] | {layer}
    return _training_layer(module) in allowed or any(module == f"training.{a}" for a in allowed)


def test_training_sub_packages_import_only_downwards():
    assert _training_layer("training.engine.loop") == "engine" and _training_layer("training.protocol") == "recipe"
    assert {_training_layer(n) for n in GRAPH if n.startswith("training.")} == set(TRAINING_LAYERS)
    upward = [f"{a} imports {b}" for a, targets in GRAPH.items() if a.split(".")[0] == "training"
              for b in targets if b.split(".")[0] == "training" and not _may_import(_training_layer(a), b)]
    assert not upward, "expected training's imports only downwards (recipe -> monitor, reports -> engine; " \
        "monitor and reports not each other, except reports.paper), got: " + "; ".join(sorted(upward))


def _cycle(graph):
    """One import cycle as a list of modules, or None (a depth-first search; a package's __init__ importing
    its own modules is not a cycle unless one of them imports the package back)."""
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == "open":
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = "done"
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_import_cycle(package):
    sub = {n: {m for m in t if m.split(".")[0] == package} for n, t in GRAPH.items() if n.split(".")[0] == package}
    cycle = _cycle(sub)
    assert cycle is None, f"expected no import cycle in {package}/, got: {' -> '.join(cycle)}"


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
