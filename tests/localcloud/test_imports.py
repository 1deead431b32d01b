"""The local cloud's modules import each other without cycles (function-level imports count too).

A module's import of its own package's submodule (`from localcloud import patches`) is an edge to that
submodule; an import of a name the package's __init__ defines is an edge to the package itself. Python's
implicit import of the parent package before any submodule is not counted: every package has it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "localcloud"
ROOT = Path(__file__).resolve().parents[2] / "localstack" / PACKAGE


def _module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


def _imports(source: str, this: str, modules: set[str]) -> set[str]:
    """The package's modules that the module ``this`` imports anywhere in ``source``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            elif node.level == 1:  # relative to this package
                base = f"{PACKAGE}.{node.module}" if node.module else PACKAGE
            else:
                continue
            for alias in node.names:
                # `from localcloud import x` names the submodule x when there is one, else the package.
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    found.add(submodule)
                elif base in modules:
                    found.add(base)
    return found - {this}


def _graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.glob("*.py"))
    modules = {_module_name(p) for p in paths}
    return {_module_name(p): _imports(p.read_text(encoding="utf-8"), _module_name(p), modules) for p in paths}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, str] = {}  # "open" while on the DFS path, "done" after

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_the_checker_sees_every_kind_of_import_and_every_cycle() -> None:
    # GIVEN a module importing at the top, inside a function, relatively, and a name of the package
    modules = {"localcloud", "localcloud.a", "localcloud.b", "localcloud.c", "localcloud.d"}
    source = (
        "import json\n"
        "from localcloud.a import thing\n"
        "from . import b\n"
        "from localcloud import NAME\n"
        "def later():\n"
        "    from localcloud import c\n"
        "    import localcloud.d\n"
    )
    # WHEN its imports are read / THEN each is an edge, the package's own name an edge to the package
    assert _imports(source, "localcloud.x", modules) == modules
    # AND a cycle is reported as the path that closes it, an acyclic graph as none
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_localcloud_has_no_import_cycles() -> None:
    # GIVEN every module of localstack/localcloud / WHEN its imports are followed / THEN none leads back to it
    assert _cycles(_graph()) == []


def test_patch_modules_import_only_the_patch_point_machinery_of_the_package() -> None:
    # GIVEN the modules that patch moto / WHEN their imports are read
    graph = _graph()
    # THEN patches.apply is the only module that imports them all, and none of them imports patches
    for module in ("lambda_runner", "map_workers", "quiet_logs", "map_runs", "speedups"):
        assert graph[f"{PACKAGE}.{module}"] <= {f"{PACKAGE}.patchpoints"}, module
    assert graph[f"{PACKAGE}.patchpoints"] == set()
