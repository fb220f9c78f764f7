"""The map in docs/ARCHITECTURE.md holds: every import points down a floor, task packages do
not import each other, and the command line and the server know no task by name."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "rnnkit"
BASE = {"io", "reference", "rnnkit"}  # `rnnkit` itself: the version string
LAYERS = BASE | {"layers", "cells"}
BELOW_TASKS = LAYERS | {"config", "models", "data", "train", "diagnostics"}
SERVING_BLOCKS = {"serve.batching", "serve.limits"}  # leaf modules a task's routes use
TASK_BASE = BELOW_TASKS | {"tasks"} | SERVING_BLOCKS
# What each floor may import, besides itself.
ALLOWED = {
    "reference": set(),
    "io": set(),
    "rnnkit": set(),
    "layers": LAYERS,
    "cells": LAYERS,
    "config": LAYERS,
    "models": LAYERS | {"config"},
    "data": BASE | {"config"},
    "train": LAYERS | {"config", "data", "models"},
    "diagnostics": LAYERS | {"config", "models", "data", "train"},
    "tasks": TASK_BASE,  # base.py and runner.py
    "serve.batching": set(),
    "serve.limits": set(),
    "serve": TASK_BASE,  # the app: the registry and the runner, never a task by name
    "cli": TASK_BASE | {"serve", "demo"},
}


def floor(module: str) -> str:
    """``rnnkit.tasks.lm.engine`` -> ``tasks.lm``; ``rnnkit.serve.app`` -> ``serve``."""
    parts = module.split(".")[1:]
    if not parts:
        return "rnnkit"
    if parts[0] == "tasks" and len(parts) > 1 and parts[1] not in ("base", "runner"):
        return f"tasks.{parts[1]}"
    if parts[0] == "serve" and len(parts) > 1 and f"serve.{parts[1]}" in SERVING_BLOCKS:
        return f"serve.{parts[1]}"
    return parts[0]


def is_module(name: str) -> bool:
    """Whether ``rnnkit.a.b`` is a module or package of src/rnnkit (not a name inside one)."""
    path = SRC.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports() -> list[tuple[str, str, str]]:
    """(file, its floor, the floor it imports) for every rnnkit import in src/rnnkit; the
    registration point ``rnnkit/tasks/__init__.py``, which imports every task, aside."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        if module == "rnnkit.tasks":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module:  # `from a.b import c`: a.b.c
                names = (f"{node.module}.{a.name}" for a in node.names)  # when c is a module
                targets = [n if is_module(n) else node.module for n in names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if target.startswith("rnnkit"):
                    found.append((str(path.relative_to(SRC)), floor(module), floor(target)))
    return found


def allowed(source: str, target: str) -> bool:
    if source == target or source in ("demo", "__main__"):
        return True
    if source.startswith("tasks."):  # a task package: the floors below, never another task
        return target in TASK_BASE
    return target in ALLOWED[source]


def test_every_import_points_down_a_floor():
    wrong = [f"{path}: {source} imports {target}" for path, source, target in imports()
             if not allowed(source, target)]  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_the_map_finds_what_it_checks():
    found = {(source, target) for _, source, target in imports()}
    assert ("tasks.lm", "serve.batching") in found and ("serve", "tasks") in found
    assert ("tasks.lm", "tasks.lm") in found  # `from rnnkit.tasks.lm import task` is its own
    # `from rnnkit.tasks import lm` names the package lm, not the floor tasks.
    assert is_module("rnnkit.tasks.lm") and not is_module("rnnkit.tasks.base.Task")
    assert not allowed("tasks.lm", "tasks.classify") and not allowed("serve", "tasks.lm")
    assert not allowed("train", "tasks") and not allowed("models", "data")


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_source_file_is_over_about_350_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 360
