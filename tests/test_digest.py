"""The digest schedule, and each digest part sent exactly once even when Telegram fails."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from core.models import Role
from core.schedule import DigestSchedule
from handlers.delivery import classify
from services.digest import due_week
from tests.harness import running

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
