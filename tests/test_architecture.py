"""The layout of DESIGN.md §2, checked: a wrong-way import, a cycle or a write in the wrong
place fails the suite instead of waiting for a reviewer to notice."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
# Every table whose rows one service alone writes, and that service.
OWNERS = {
    "Integration": "webapp/services/integrations.py",
    "SyncSchedule": "webapp/services/scheduler.py",
}
WRITES = {"create", "insert", "insert_many", "replace", "update", "delete", "get_or_create"}
QUERIES = {"select", "get", "get_or_none", "get_by_id", "raw"}


def _python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def test_the_import_contracts_hold():
    """import-linter's contracts in pyproject.toml: layers, Flask-free adapters, the sandbox."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Strongly connected groups of more than one module inside `package` (Tarjan).

    Imports of the package root itself are left out: importing any submodule imports its
    package first anyway, and the root of `webapp` is the app factory that wires every layer.
    """
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    edges = {
        m: sorted(
            i
            for i in graph.find_modules_directly_imported_by(m)
            if i.startswith(package + ".") and i != m
        )
        for m in modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles_inside_webapp_or_adapters():
    graph = grimp.build_graph("webapp", "adapters")
    assert cycles(graph, "webapp") == []
    assert cycles(graph, "adapters") == []


def test_the_cycle_check_finds_a_cycle():
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg")
    assert cycles(graph, "pkg") == [["pkg.a", "pkg.b"]]


def _model_writes(path: Path) -> list[tuple[str, str, int]]:
    """(Model, method, line) for each `Model.write(...)`, `x.save()` or `db.atomic()` call."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target, method = node.func.value, node.func.attr
        if isinstance(target, ast.Name) and target.id[:1].isupper() and method in WRITES:
            found.append((target.id, method, node.lineno))
        elif method in ("save", "delete_instance") or (
            method == "atomic" and isinstance(target, ast.Name) and target.id == "db"
        ):
            found.append((getattr(target, "id", "?"), method, node.lineno))
    return found


def _model_queries(path: Path) -> list[tuple[str, str, int]]:
    """(Model, method, line) for each `Model.select(...)` / `.get(...)` style query."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target, method = node.func.value, node.func.attr
            model = (
                isinstance(target, ast.Name) and target.id[:1].isupper() and not target.id.isupper()
            )
            if model and method in QUERIES:
                found.append((target.id, method, node.lineno))
    return found


def test_views_and_the_api_neither_query_nor_write_themselves():
    """Views parse, call one service and render: reads and writes go through services."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line} {model}.{method}"
        for path in _python_files("webapp/views", "webapp/api")
        for model, method, line in _model_writes(path) + _model_queries(path)
    ]
    assert offenders == []


def test_integrations_and_schedules_are_written_only_by_their_owning_service():
    offenders = []
    for path in _python_files("webapp"):
        relative = str(path.relative_to(ROOT))
        if "/migrations/" in relative:
            continue
        for model, method, line in _model_writes(path):
            if model in OWNERS and OWNERS[model] != relative:
                offenders.append(f"{relative}:{line} {model}.{method}")
        text = path.read_text().lower()
        for model, table in (("Integration", "integration"), ("SyncSchedule", "sync_schedule")):
            if OWNERS[model] != relative and f"update {table} " in text:
                offenders.append(f"{relative}: raw UPDATE of {table}")
    assert offenders == []


# A module past this becomes a package whose files name its parts (DESIGN §2). Migrations
# are frozen copies of the models, as pwmigrate asks, and are not counted.
MAX_LINES = 600


def test_no_module_in_webapp_or_adapters_grows_past_600_lines():
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in _python_files("webapp", "adapters")
        if "/migrations/" not in str(path)
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}
