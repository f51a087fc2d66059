"""The message catalogue: every sentence a user reads, in Japanese, looked up by key."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

CATALOGUE_FILE = "messages.ja.toml"


class Catalogue:
    def __init__(self, entries: Mapping[str, str]) -> None:
        self._entries = dict(entries)

    def __call__(self, key: str, /, **params: Any) -> str:
        try:
            template = self._entries[key]
        except KeyError:
            raise KeyError(f"message {key!r} is not in the catalogue") from None
        return template.format(**params) if params else template

    def template(self, key: str) -> str:
        """The raw text with its {fields}, unfilled."""
        return self._entries[key]

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def keys(self) -> list[str]:
        return list(self._entries)


def _flatten(prefix: str, node: Mapping[str, Any], out: dict[str, str]) -> None:
    for key, value in node.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            _flatten(name, value, out)
        else:
            out[name] = str(value)


@cache
def catalogue() -> Catalogue:
    text = resources.files("core").joinpath(CATALOGUE_FILE).read_text(encoding="utf-8")
    entries: dict[str, str] = {}
    _flatten("", tomllib.loads(text), entries)
    return Catalogue(entries)


def t(key: str, /, **params: Any) -> str:
    """Shorthand used across the program: t("flow.saved")."""
    return catalogue()(key, **params)
