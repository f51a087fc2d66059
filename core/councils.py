"""Councils of one deployment: a city council (市社協) and the ward councils (区社協) under it, each with its own
data, key, taxonomy and bot. One council on one database needs none of this: it is simply one council."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A council's code names its folder (and, on PostgreSQL, its schema): short, lower-case, safe in a path.
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ALL = "all"  # `--council all`: every council under the top of the deployment


class CouncilError(ValueError):
    """A wrong council code, name or parent; `code` is the council it is about."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class CouncilExists(CouncilError):
    """A council with this code is already registered."""


class UnknownCouncil(CouncilError):
    """No council with this code is registered (a parent named, a council asked for)."""


@dataclass(frozen=True, slots=True)
class Council:
    code: str
    name: str
    short_name: str
    parent: str | None
    enabled: bool

    @property
    def column(self) -> str:
        """What heads the council's column in a city table."""
        return self.short_name or self.name


def check_code(code: str) -> str:
    if code == ALL or not CODE_PATTERN.match(code):
        raise CouncilError(code)
    return code


def children_of(councils: list[Council], parent: str | None) -> list[Council]:
    """The enabled councils directly under `parent` (None: the top of the deployment), in the order added."""
    return [c for c in councils if c.parent == parent and c.enabled]


def tops(councils: list[Council]) -> list[Council]:
    known = {c.code for c in councils}
    return [c for c in councils if c.enabled and (c.parent is None or c.parent not in known)]
