"""Services over a real store of each engine (SQLite, PostgreSQL: tests/conftest.py) on a fixed clock: no bot, no
HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.clock import ManualClock
from core.models import Role, Staff
from core.taxonomy import Taxonomy
from services.deps import Deps
from services.flow import FlowService
from services.followups import FollowUpService
from services.reporting import ReportService
from services.staff import StaffService
from storage.sqlite.store import SqlStore
from storage.types import IdempotencyKey

NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # Monday 09:30 in Tokyo
BOT = 1


@dataclass
class World:
    store: SqlStore
    deps: Deps
    clock: ManualClock
    flows: FlowService
    followups: FollowUpService
    reports: ReportService
    staff: StaffService
    updates: int = 0

    def key(self) -> IdempotencyKey:
        """A fresh update's idempotency key."""
        self.updates += 1
        return IdempotencyKey(BOT, self.updates)

    async def person(self, telegram_id: int, role: Role = Role.STAFF, zone: str | None = "west") -> Staff:
        async with self.store.unit(None, self.clock.now()) as tx:
            await tx.execute(
                "INSERT INTO staff (telegram_id, name, role, zone, area, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (telegram_id, f"職員{telegram_id}", role.value, zone, "kyonan" if zone == "west" else None, "x"),
            )
        self.store.staff.cache.clear()
        found = await self.store.staff.by_telegram_id(telegram_id)
        assert found is not None
        return found


@pytest.fixture
async def world(store: SqlStore, taxonomy: Taxonomy) -> AsyncIterator[World]:
    clock = ManualClock(NOW)
    deps = Deps(store, taxonomy, clock, ZoneInfo("Asia/Tokyo"))
    yield World(
        store,
        deps,
        clock,
        FlowService(deps, "boot-1"),
        FollowUpService(deps),
        ReportService(deps),
        StaffService(deps),
    )
