"""The house's rules, checked on the source: common/ in three layers whose imports only go down, backends that
reach only the contract, no import circles, small files and functions, and `import common` without the studies."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RANK = {"core": 0, "jobs": 1, "studies": 2, "serve": 3, "batch": 3}  # the layers of common/, bottom to top
SOURCES = [*sorted(p for folder in ("common", "backends") for p in (ROOT / folder).rglob("*.py")), ROOT / "cli.py"]


def module_name(path: Path) -> str:
    """'common.jobs.run' for common/jobs/run.py; a package is its __init__."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


KNOWN = {module_name(p) for p in SOURCES}


def imports(path: Path) -> set[str]:
    """The project modules a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from . import run` imports the module run, not the package
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in KNOWN else base)
    return {name for name in found if name in KNOWN and name != module_name(path)}


def layer(module: str) -> str | None:
    """The layer ('core', 'jobs', ...) of a module of common/, else None."""
    parts = module.split(".")
    return parts[1] if parts[0] == "common" and len(parts) > 1 and parts[1] in RANK else None


GRAPH = {module_name(p): imports(p) for p in SOURCES}


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a module from a higher layer of common/ than its own, or from a sibling at its height."""
    return [
        f"{a} -> {b}"
        for a, targets in graph.items()
        for b in targets
        if layer(a) and layer(b) and layer(a) != layer(b) and RANK[layer(b)] >= RANK[layer(a)]
    ]


def circles(graph: dict[str, set[str]]) -> list[str]:
    """Every module that imports itself through other modules."""

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for b in graph.get(todo.pop(), ()):
                if b not in seen:
                    seen.add(b)
                    todo.append(b)
        return seen

    return sorted(m for m in graph if m in reach(m))


def test_the_layers_import_only_downwards() -> None:
    assert not upward(GRAPH), upward(GRAPH)


def test_backends_reach_only_the_contract() -> None:
    # backends/__init__.py binds `core` (by import_module, so that a checkout and an installed nst both work)
    assert (
        'core = importlib.import_module(__name__.rpartition("backends")[0] + "common.core")'
        in (ROOT / "backends" / "__init__.py").read_text()
    )
    wrong = [
        f"{a} -> {b}"
        for a, targets in GRAPH.items()
        if a.startswith("backends")
        for b in targets
        if b.startswith("common") and b != "common.core" and not b.startswith("common.core.")
    ]
    assert not wrong, wrong


def test_no_import_circles() -> None:
    assert not circles(GRAPH), circles(GRAPH)


def test_the_rules_fail_on_a_house_that_breaks_them() -> None:
    bad = {m: set(targets) for m, targets in GRAPH.items()}
    bad["common.jobs.images"].add("common.studies.flops")  # a job reaching up into a study
    bad["common.jobs.run"].add("common.jobs.stylize")  # stylize -> photoreal -> run -> stylize
    assert upward(bad) == ["common.jobs.images -> common.studies.flops"]
    assert {"common.jobs.run", "common.jobs.stylize", "common.jobs.photoreal"} <= set(circles(bad))


def test_the_checks_see_real_imports() -> None:
    assert layer("common.jobs.run") == "jobs" and layer("backends.torch") is None
    assert {"common.core.interface", "common.jobs.images"} <= GRAPH["common.jobs.run"]  # relative, both forms
    assert "backends" in GRAPH["backends.torch.trainer"]  # `from .. import core`: the name backends/__init__ binds


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_files_and_functions_stay_small(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300, f"{path.name} has {len(text.splitlines())} lines"
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60
    ]
    assert not long, long


def test_import_common_loads_the_contract_and_the_jobs_but_not_the_studies() -> None:
    code = "import sys, common; print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('common.')}))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['core', 'jobs']"
