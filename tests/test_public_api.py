"""Every public module of both packages says what it exports: an ``__all__`` that is sorted, names only
what the module binds, and lists every public class and function the module defines.

A module is public when no part of its dotted name starts with ``_``. The checks read each module's
source (``ast``), so that a module whose optional harness is not installed (an integration, a driver
that runs in another environment) is checked all the same; a module with a module-level
``__getattr__`` (lazy exports) has its unbound names looked up by importing it.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import itbench_eval
import itbench_server


@dataclass(frozen=True)
class Module:
    name: str
    path: Path


def _public_modules() -> list[Module]:
    modules: list[Module] = []
    for package in (itbench_server, itbench_eval):
        root = Path(*package.__path__)
        for path in sorted(root.rglob("*.py")):
            parts = [package.__name__, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            if any(part.startswith("_") for part in parts):
                continue
            modules.append(Module(".".join(parts), path))
    return modules


PUBLIC_MODULES = _public_modules()


def _isort_key(name: str) -> tuple[int, list[int | str]]:
    """The order of ruff's RUF022 ("isort-style"): CONSTANTS, then Classes, then the rest, each naturally."""
    category = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return category, [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets):
            assert isinstance(value, ast.List | ast.Tuple), "__all__ is a literal list"
            names = [element.value for element in value.elts if isinstance(element, ast.Constant)]
            assert len(names) == len(value.elts), "__all__ holds only string literals"
            return [str(name) for name in names]
    return None


def _bound_names(statements: list[ast.stmt]) -> set[str]:
    """The names the statements bind at module level, through if/try/with blocks too."""
    names: set[str] = set()
    for node in statements:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(name.id for name in ast.walk(target) if isinstance(name, ast.Name))
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody"):
                names |= _bound_names(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                names |= _bound_names(handler.body)
    return names


def _public_definitions(tree: ast.Module) -> set[str]:
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and not node.name.startswith("_")
    }


def _parse(module: Module) -> ast.Module:
    return ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))


def test_the_walk_finds_the_modules_of_both_packages() -> None:
    names = {module.name for module in PUBLIC_MODULES}
    assert {
        "itbench_server.errors",
        "itbench_server.mcp.sql",
        "itbench_eval.errors",
        "itbench_eval.cli",
    } <= names
    assert not any("._" in name for name in names)


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda module: module.name)
def test_each_public_module_declares_a_sorted_all(module: Module) -> None:
    exported = _declared_all(_parse(module))
    assert exported is not None, f"{module.path} has no __all__"
    assert exported == sorted(exported, key=_isort_key), "sorted as ruff's RUF022 sorts"
    assert len(set(exported)) == len(exported), "no name twice"


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda module: module.name)
def test_each_name_in_all_is_defined_or_imported_by_its_module(module: Module) -> None:
    tree = _parse(module)
    exported = _declared_all(tree) or []
    bound = _bound_names(tree.body)
    unbound = [name for name in exported if name not in bound]
    if unbound and "__getattr__" in bound:
        # Lazy exports: the module's __getattr__ must give each one.
        loaded = importlib.import_module(module.name)
        unbound = [name for name in unbound if not hasattr(loaded, name)]
    assert unbound == []


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda module: module.name)
def test_each_public_class_and_function_of_a_module_is_in_its_all(module: Module) -> None:
    tree = _parse(module)
    exported = set(_declared_all(tree) or [])
    assert sorted(_public_definitions(tree) - exported) == []


def test_the_checks_catch_an_unsorted_a_dangling_and_an_incomplete_all() -> None:
    tree = ast.parse('import os\n__all__ = ["b", "a", "nowhere"]\ndef a(): ...\ndef b(): ...\nclass C: ...\n')
    exported = _declared_all(tree)
    assert exported is not None
    assert exported != sorted(exported, key=_isort_key)
    assert [name for name in exported if name not in _bound_names(tree.body)] == ["nowhere"]
    assert _public_definitions(tree) - set(exported) == {"C"}


def test_the_order_is_constants_then_classes_then_the_rest_with_numbers_in_order() -> None:
    names = ["run", "Agent", "MAX_TURNS", "item10", "item2", "_private", "A"]
    assert sorted(names, key=_isort_key) == ["MAX_TURNS", "A", "Agent", "_private", "item2", "item10", "run"]
