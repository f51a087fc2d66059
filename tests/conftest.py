"""Shared fixtures: the default taxonomy, a flow context on a fixed day, a fresh database of each engine.

`store` is a fresh database on SQLite, and again on PostgreSQL (a throwaway server started once for the session,
tests/pg.py): every test that takes it runs on both engines, unless marked `sqlite_only`. Where no PostgreSQL
server binaries are found, the PostgreSQL runs are skipped with one line saying how to enable them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest

from bot import logs
from core.crypto import Sealer, generate_key
from core.flow import FlowContext
from core.taxonomy import Taxonomy, load_taxonomy
from storage.postgres.store import PostgresStore
from storage.sqlite.store import SqlStore, Store
from tests.pg import SKIP_REASON, Cluster, run_aside, shared_cluster

pytest_plugins = ["tests.browser"]  # the browser fixtures: `browser`, `new_browser`

TODAY = date(2026, 11, 23)  # a Monday
TEST_KEY = generate_key()


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture
def ctx(taxonomy: Taxonomy) -> FlowContext:
    return FlowContext(taxonomy, TODAY, "west")


ENGINES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that takes `engine` (and so `store`) runs once per engine; `sqlite_only` ones on SQLite alone."""
    if "engine" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("engine", ENGINES[:1] if only_sqlite else ENGINES, scope="function")


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """A test that configures logging (bot/logs.py, as `fieldbot run` does) leaves no handler on the root logger,
    no level and no redaction list behind: a handler writing to a stream pytest has since closed would break
    the next test that logs, and which test that is would depend on the order they run in."""
    root = logging.getLogger()
    handlers, level, secrets = list(root.handlers), root.level, list(logs._SECRETS)
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_fieldbot", False) and handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logs._SECRETS[:] = secrets


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With FIELDBOT_TEST_DATABASE=postgresql (the whole bot on PostgreSQL, tests/harness.py), a test marked
    `sqlite_only` that looks at SQLite itself (its files, its errors, its backup) is skipped, saying why."""
    if os.environ.get("FIELDBOT_TEST_DATABASE") != "postgresql":
        return
    skip = pytest.mark.skip(reason="looks at SQLite itself; the bot runs on PostgreSQL in this run")
    for item in items:
        if item.get_closest_marker("sqlite_only") is not None and "engine" not in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """The session's throwaway PostgreSQL server, started by the first test that needs it, stopped at the end
    of the session however it ends."""
    cluster = shared_cluster()
    if cluster is None:
        pytest.skip(SKIP_REASON)
    try:
        yield cluster
    finally:
        cluster.stop()


async def open_store(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> SqlStore:
    """A fresh, migrated database of `engine` with the test key (a copy of the session's template on PostgreSQL)."""
    if engine == "sqlite":
        return await Store.open(tmp_path / "fieldbot.sqlite3", Sealer.from_text(TEST_KEY))
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    name = await cluster.create_database(template=Cluster.TEMPLATE)
    request.addfinalizer(lambda: run_aside(cluster.drop_database(name)))
    return await PostgresStore.open(cluster.url(name), Sealer.from_text(TEST_KEY))


@pytest.fixture
async def store(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[SqlStore]:
    opened = await open_store(engine, tmp_path, request)
    try:
        yield opened
    finally:
        await opened.close()
