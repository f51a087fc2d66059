"""The house stays readable: no product module over 600 lines, no function over 60 lines in handlers/ or services/
(issue 10's limits, kept by a test rather than by memory)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "cli", "core", "demo", "handlers", "reports", "services", "storage")


def test_no_product_module_is_over_600_lines() -> None:
    long = {
        str(path.relative_to(REPO)): n
        for package in PRODUCT
        for path in (REPO / package).rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}


def test_no_function_in_handlers_or_services_is_over_60_lines() -> None:
    long = {}
    for package in ("handlers", "services"):
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.end_lineno is None:
                    continue
                if (n := node.end_lineno - node.lineno + 1) > 60:
                    long[f"{path.relative_to(REPO)}:{node.name}"] = n
    assert long == {}
