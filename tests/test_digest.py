"""The digest schedule, and each digest part sent exactly once even when Telegram fails."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from core.clock import ManualClock
from core.models import Role
from core.schedule import DigestSchedule
from core.taxonomy import Taxonomy
from handlers.delivery import classify
from reports.tally import Report
from services.digest import DigestService, due_week
from services.screens import Rows
from storage.sqlite.store import Store
from tests.harness import running
from tests.seed import outing

TOKYO = ZoneInfo("Asia/Tokyo")
INSTALLED = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
MONDAY_0831 = datetime(2026, 11, 22, 23, 31, tzinfo=UTC)


def test_the_schedule_reads_a_weekday_and_a_time() -> None:
    assert DigestSchedule.parse("mon 08:30") == DigestSchedule(0, time(8, 30))
    assert DigestSchedule.parse(" Fri 17:05 ") == DigestSchedule(4, time(17, 5))
    for wrong in ("monday 8:30", "mon 24:00", "mon", "08:30"):
        with pytest.raises(ValueError, match="is not like 'mon 08:30'"):
            DigestSchedule.parse(wrong)


@pytest.mark.parametrize(
    ("now", "week", "moment"),
    [
        (datetime(2026, 11, 22, 23, 29, tzinfo=UTC), "2026-W46", datetime(2026, 11, 16, 8, 30, tzinfo=TOKYO)),
        (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), "2026-W47", datetime(2026, 11, 23, 8, 30, tzinfo=TOKYO)),
        (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), "2026-W47", datetime(2026, 11, 23, 8, 30, tzinfo=TOKYO)),
        (datetime(2027, 1, 4, 0, 0, tzinfo=UTC), "2026-W53", datetime(2027, 1, 4, 8, 30, tzinfo=TOKYO)),
    ],
)
def test_the_due_week_is_the_last_full_week_before_the_latest_scheduled_moment(
    now: datetime, week: str, moment: datetime
) -> None:
    period, at = due_week(now, TOKYO, DigestSchedule.parse("mon 08:30"))
    assert (period.key, at) == (week, moment)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), "failed"),
        (BadRequest("Chat not found"), "failed"),
        (RetryAfter(timedelta(seconds=5)), "retry"),
        (NetworkError("Internal Server Error"), "retry"),
        (NetworkError("Bad Gateway (502). Parsing the server response failed"), "retry"),
        (TimedOut(), "unknown"),
        (NetworkError("httpx.RemoteProtocolError: Server disconnected without sending a response."), "unknown"),
    ],
)
def test_delivery_failures_are_classified_for_the_outbox(error: Exception, outcome: str) -> None:
    assert classify(error).outcome == outcome  # type: ignore[arg-type]


async def test_a_digest_refused_with_a_server_error_is_sent_at_the_next_tick_once(tmp_path: Path) -> None:
    async with running(tmp_path, start=INSTALLED) as h:
        supervisor = await h.register(3001, Role.SUPERVISOR)
        await supervisor.send("/help")
        h.clock.set(MONDAY_0831)
        h.api.inject("sendMessage", status=500, times=2)  # the admin's digest (first) and the supervisor's
        await h.tick()
        assert not [m for m in supervisor.messages if m.text.startswith("📊 週間ダイジェスト")]
        await h.tick()
        await h.tick()
        assert len([m for m in supervisor.messages if m.text.startswith("📊 週間ダイジェスト")]) == 1
        assert supervisor.last is not None and supervisor.last.photo is not None


async def test_a_digest_whose_answer_was_lost_is_not_sent_again(tmp_path: Path) -> None:
    async with running(tmp_path, start=INSTALLED) as h:
        supervisor = await h.register(3001, Role.SUPERVISOR)
        await supervisor.send("/help")
        h.clock.set(MONDAY_0831)
        await h.api.user(1001).send("/help")  # the admin's chat exists too, and is served first
        h.api.inject("sendMessage", drop=True, after_effect=True, times=2)
        await h.tick()
        await h.tick()
        assert len([m for m in supervisor.messages if m.text.startswith("📊 週間ダイジェスト")]) == 1
        statuses = {key: status for key, status, _ in await h.store.outbox.history("digest")}
        assert statuses["digest:2026-W47:3001:text:0"] == "unknown"
        assert statuses["digest:2026-W47:3001:chart"] == "sent"  # the chart went out normally


async def test_the_outbox_marks_a_send_and_claims_the_next_in_one_statement(store: Store) -> None:
    now = MONDAY_0831
    first, second, other = "digest:2026-W47:1:text:0", "digest:2026-W47:1:chart", "digest:2026-W47:2:text:0"
    assert await store.outbox.claim(first, "digest", 1, now)
    assert await store.outbox.sent_and_claim((first, 1), second, "digest", 1, now)
    assert await store.outbox.statuses("digest:2026-W47:") == {first: "sent", second: "sending"}
    # The next send was claimed by an earlier run: not ours, and the one that went out is marked all the same.
    assert await store.outbox.claim(other, "digest", 2, now)
    assert not await store.outbox.sent_and_claim((second, 1), other, "digest", 2, now)
    assert await store.outbox.statuses("digest:2026-W47:") == {first: "sent", second: "sent", other: "sending"}
    await store.outbox.claim("digest:2026-W48:1:chart", "digest", 1, now)
    await store.outbox.claim("reminder:7:2026-11-23", "reminder", 1, now)
    assert set(await store.outbox.statuses("digest:2026-W47:")) == {first, second, other}
    assert set(await store.outbox.statuses("digest:2026-W47:1:")) == {first, second}


class Recorded:
    """A sender that keeps what it was asked to send: (chat, "text" or "photo")."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def text(self, chat_id: int, text: str, buttons: Rows = ()) -> None:
        self.sent.append((chat_id, "text"))

    async def photo(self, chat_id: int, png: bytes, caption: str) -> None:
        self.sent.append((chat_id, "photo"))


async def test_a_digest_composes_each_content_once_and_a_run_after_it_reads_only_staff_and_outbox(
    store: Store, taxonomy: Taxonomy
) -> None:
    admin = await store.staff.ensure_admin(1001, INSTALLED)
    async with store.db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO staff (telegram_id, name, role, zone, created_at) VALUES (?, ?, 'supervisor', ?, ?)",
            [(3001, "西一", "west", "x"), (3002, "西二", "west", "x"), (3003, "中央", "central", "x")],
        )
    await outing(store, admin.id, date(2026, 11, 17))
    await store.meta.put("installed_at", "2000-01-01T00:00:00.000000Z")
    sender = Recorded()
    digests = DigestService(
        store, taxonomy, sender, ManualClock(MONDAY_0831), TOKYO, DigestSchedule.parse("mon 08:30"), draw=no_chart
    )
    reads = counted_reads(store)
    assert await digests.run() == 8
    chats = [chat for chat, _ in sender.sent[::2]]  # each recipient's text, then its chart
    assert sorted(chats) == [1001, 3001, 3002, 3003]
    assert sender.sent == [(chat, kind) for chat in chats for kind in ("text", "photo")]
    assert len([sql for sql in reads if "UNION ALL" in sql]) == 1  # the three weeks of every scope, one scan
    statuses = await store.outbox.statuses("digest:2026-W47:")
    assert len(statuses) == 8 and set(statuses.values()) == {"sent"}
    reads.clear()
    assert await digests.run() == 0
    assert len(reads) == 2 and sender.sent[8:] == []  # the staff and the week's outbox statuses


def no_chart(report: Report, dimension: str) -> bytes:
    return b""


def counted_reads(store: Store) -> list[str]:
    seen: list[str] = []
    read = store.db.fetchall

    async def fetchall(sql: str, params: Any = ()) -> Any:
        seen.append(sql)
        return await read(sql, params)

    store.db.fetchall = fetchall  # type: ignore[method-assign]
    return seen
