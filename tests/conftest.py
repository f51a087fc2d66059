"""Shared fixtures: the default taxonomy, a flow context on a fixed day, a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from core.crypto import Sealer, generate_key
from core.flow import FlowContext
from core.taxonomy import Taxonomy, load_taxonomy
from storage.sqlite.store import Store

TODAY = date(2026, 11, 23)  # a Monday
TEST_KEY = generate_key()


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture
def ctx(taxonomy: Taxonomy) -> FlowContext:
    return FlowContext(taxonomy, TODAY, "west")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "fieldbot.sqlite3", Sealer.from_text(TEST_KEY))
    try:
        yield opened
    finally:
        await opened.close()
