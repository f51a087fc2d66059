"""Every sentence users read comes from the message catalogue: keys exist, no Japanese literals in code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from core.i18n import catalogue

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "cli", "core", "demo", "handlers", "services", "storage", "reports")
CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")
KEY_CALL = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")


def sources() -> list[Path]:
    return [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]


def test_every_literal_catalogue_key_used_in_code_exists() -> None:
    known = set(catalogue().keys())
    used = {key for path in sources() for key in KEY_CALL.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 100
    assert sorted(used - known) == []


def test_no_japanese_string_literal_outside_the_catalogue() -> None:
    """Docstrings may quote Japanese (they document the published layout); code strings may not."""
    offenders = []
    for path in sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        # Patterns that read what staff type (11月20日) are code, not text shown to anyone.
        patterns = {
            id(arg)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "compile"
            for arg in node.args
        }
        offenders += [
            f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:40]}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings | patterns
            and CJK.search(node.value)
        ]
    assert offenders == []


def test_templates_format_with_their_documented_fields() -> None:
    formatter = __import__("string").Formatter()
    for key in catalogue().keys():  # noqa: SIM118 - Catalogue is not a dict
        template = catalogue().template(key)
        fields = [name for _, name, _, _ in formatter.parse(template) if name]
        assert all(re.fullmatch(r"[a-z_]+(:[0-9a-z]+)?", f) or re.fullmatch(r"[a-z_]+", f) for f in fields), key
