"""Retention: personal text is erased after its period by a nightly job that a jumping clock cannot hurry (what
the previous nightly run had not seen due yet waits for the next one), memos go with their record's period,
and a draft nobody answered for DRAFT_RETENTION_DAYS is dropped with exactly one note to its owner."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.settings import SettingsError, load_settings
from core import flow
from core.clock import ManualClock, utc_iso
from core.crypto import Sealer
from core.flow import FlowContext
from core.i18n import t
from core.models import NewOuting, Role, Submission
from core.periods import fiscal_year
from core.taxonomy import Taxonomy, load_taxonomy
from services.outbound import DeliveryError
from services.reminders import ClockBehind, DraftExpiryService, RetentionService
from services.reporting import Reporter
from services.screens import Rows
from simulator.botapi import LocalBotApi, SimUser
from storage.sqlite.store import Store
from tests.conftest import TEST_KEY
from tests.harness import START, BotProcess, Harness, integrity, prepare_database, running
from tests.test_cli import fieldbot
from tests.test_e2e_followups import SECRET_REASON, STAFF, flag_in_an_outing

TOKYO = ZoneInfo("Asia/Tokyo")
COLLEAGUE = STAFF + 1
SECRET_MEMO = "MEMO-unique-8812 田中さん宅の鍵は郵便受けの中"
LATER_MEMO = "MEMO-unique-9903 次回は民生委員と同行"
DROPPED_NOTE = "入力途中の記録（11/23(月)・境南町）は30日間操作がなかったため破棄しました。"


def tokyo(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


async def close_the_followup(h: Harness) -> None:
    staff = h.api.user(STAFF)
    await staff.send("/followups")
    await staff.press("境南町 80代女性 A")
    await staff.press("✅ 完了")
    assert await staff.press("解決") == "完了にしました"


async def reason(h: Harness) -> str | None:
    detail = await h.store.followups.detail(1, None, h.clock.now())
    assert detail is not None
    return detail.reason


async def an_outing_with_a_memo(staff: SimUser, memo: str) -> None:
    await staff.send("/visit")
    for button in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった"):
        await staff.press(button)
    await staff.send(memo)
    assert await staff.press("💾 保存") == "保存しました"


async def memos(h: Harness) -> list[tuple[int, bool]]:
    rows = await h.store.db.fetchall("SELECT id, memo IS NOT NULL FROM submissions ORDER BY id")
    return [(int(r[0]), bool(r[1])) for r in rows]


# --- follow-ups: a jumping clock --------------------------------------------------------------------------------


async def test_one_tick_with_the_clock_a_year_ahead_erases_nothing_and_the_next_night_does(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        await h.register(STAFF)
        await h.tick()  # tonight's nightly run (09:30 is after 03:00): the time the next run compares with
        await flag_in_an_outing(h)
        await close_the_followup(h)
        h.clock.advance(timedelta(minutes=5))
        await h.tick()
        h.clock.advance(timedelta(days=365))  # the clock jumps a year ahead, 5 minutes after the closing
        assert (await h.tick())["retention"] == 0
        assert await reason(h) == SECRET_REASON
        for _ in range(3):  # later ticks of the same (jumped) night do not run again
            h.clock.advance(timedelta(hours=1))
            await h.tick()
        assert await reason(h) == SECRET_REASON
        # The clock stays a year ahead, and a day later by it the next nightly run erases. That is acceptable:
        # the jumped time has now been seen by two nightly runs a day apart, as a real year would have been.
        # What the guard prevents is one wrong reading (a glitch, a bad NTP answer) erasing at once.
        h.clock.advance(timedelta(days=1))
        assert (await h.tick())["retention"] == 1
        assert await reason(h) is None
        followup = await h.store.followups.get(1)
        assert followup is not None and followup.erased and followup.label == "(削除済)"


async def test_a_clock_going_back_erases_nothing_and_purge_refuses(tmp_path: Path) -> None:
    async with running(tmp_path, retention_days=30) as h:
        await h.register(STAFF)
        await h.tick()
        await flag_in_an_outing(h)
        await close_the_followup(h)  # due for erasure on 23 Dec, 09:30
        h.clock.advance(timedelta(days=60))  # a jump ahead: the previous run saw nothing due, so nothing goes
        assert (await h.tick())["retention"] == 0
        h.clock.set(START + timedelta(days=31))  # back by 29 days, to a time it is due by
        retention = RetentionService(h.store, h.clock, TOKYO, 30)
        with pytest.raises(ClockBehind):
            await retention.run(force=True)  # `fieldbot purge` erases nothing by a clock gone back either
        assert (await h.tick())["retention"] == 0
        assert await reason(h) == SECRET_REASON
        # From there the clock runs normally: the next night, the time of the previous run is trusted again.
        h.clock.advance(timedelta(days=1))
        assert (await h.tick())["retention"] == 1
        assert await reason(h) is None


async def test_on_a_normal_schedule_it_is_erased_the_night_after_the_first_night_it_is_due(tmp_path: Path) -> None:
    async with running(tmp_path, retention_days=30) as h:
        await h.register(STAFF)
        await flag_in_an_outing(h)
        await close_the_followup(h)  # at 09:30 on 23 Nov: due for erasure at 09:30 on 23 Dec
        due = START + timedelta(days=30)
        erased_at = None
        while erased_at is None and h.clock.now() < due + timedelta(days=5):
            h.clock.advance(timedelta(hours=3))  # the bot ticks all the time; the nightly runs are at 03:30
            await h.tick()
            followup = await h.store.followups.get(1)
            assert followup is not None
            if followup.erased:
                erased_at = h.clock.now()
        # 24 Dec 03:30 is the first night it is due (the run before, on 23 Dec, saw it not yet due): kept; the
        # next night erases it, within two days of its due time.
        assert erased_at == tokyo(12, 25, 3, 30)
        assert erased_at - due < timedelta(days=2)


# --- memos ------------------------------------------------------------------------------------------------------


async def test_a_memo_is_erased_after_retention_audited_and_the_counts_stay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(tmp_path, retention_days=30) as h:
        staff = await h.register(STAFF)
        await h.tick()
        await an_outing_with_a_memo(staff, SECRET_MEMO)  # saved 23 Nov 09:30
        h.clock.advance(timedelta(days=10))
        await an_outing_with_a_memo(staff, LATER_MEMO)  # saved 3 Dec: kept until January
        reporter = Reporter(h.store, load_taxonomy())
        before = (await reporter.report(fiscal_year(2026))).model_dump_json()
        h.clock.set(tokyo(12, 24, 4))  # the first night the first memo is due: seen, kept
        assert (await h.tick())["retention"] == 0
        assert await memos(h) == [(1, True), (2, True)]
        h.clock.set(tokyo(12, 25, 4))
        assert (await h.tick())["retention"] == 1
        assert await memos(h) == [(1, False), (2, True)]
        assert await h.count("outings") == 2
        assert (await reporter.report(fiscal_year(2026))).model_dump_json() == before
        entries = [e for e in await h.store.audit.since() if e.action == "memo.erase"]
        assert [(e.actor_id, e.subject, e.detail) for e in entries] == [(None, "submission:1", "retention")]
        for entry in await h.store.audit.since():
            assert "MEMO-unique" not in f"{entry.subject} {entry.detail}"
        h.clock.set(tokyo(1, 3, 4, year=2027))
        await h.tick()
        h.clock.set(tokyo(1, 4, 4, year=2027))
        assert (await h.tick())["retention"] == 1
        assert await memos(h) == [(1, False), (2, False)]
    # The program's own log lines, at every level (the libraries' verbose ones are scrubbed by bot/logs.py).
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("bot", "handlers", "services", "storage", "core")]
    assert ours and not [r for r in ours if "MEMO-unique" in r.getMessage()]


# --- drafts -----------------------------------------------------------------------------------------------------


class NoSender:
    """The drop does not send: its notes wait in the database for the next tick."""

    async def text(self, chat_id: int, text: str, buttons: Rows = ()) -> None:
        raise AssertionError("the drop sent something")

    async def photo(self, chat_id: int, png: bytes, caption: str) -> None:
        raise AssertionError("the drop sent something")


def notes_to(user: SimUser) -> list[str]:
    return [m.text for m in user.messages if m.text.startswith("入力途中の記録")]


async def test_an_abandoned_draft_is_dropped_with_one_note_even_across_a_restart(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF)
        colleague = await h.register(COLLEAGUE)
        for person in (staff, colleague):
            await person.send("/visit")
            await person.press("活動先への出向き・参加")  # both drafts answered on 23 Nov 09:30
        await h.tick()  # the nightly run of 23 Nov
        h.clock.set(tokyo(12, 24, 4))  # 24 Dec: untouched for 31 days, but the run of 23 Nov saw 0
        assert (await h.tick())["drafts"] == 0
        h.clock.set(tokyo(12, 24, 10))
        await colleague.press("高齢者サロン")  # the colleague comes back: touched yesterday, by the next night

        # The next night's drop, then the process stops before the tick that sends its note.
        h.clock.set(tokyo(12, 25, 3, 5))
        expiry = DraftExpiryService(h.store, load_taxonomy(), NoSender(), h.clock, TOKYO, 30)
        assert await expiry.drop() == 1
        assert notes_to(staff) == []
        await h.restart()
        await h.tick()
        assert notes_to(staff) == []  # not in the night: with the morning's reminders
        h.clock.set(tokyo(12, 25, 9, 1))
        await h.tick()
        assert notes_to(staff) == [DROPPED_NOTE]
        for _ in range(2):
            h.clock.advance(timedelta(hours=12))
            await h.tick()
            await h.restart()
        await h.tick()
        assert notes_to(staff) == [DROPPED_NOTE]
        assert notes_to(colleague) == []
        sent = [(key, status) for key, status, _ in await h.store.outbox.history("draft-expired")]
        assert len(sent) == 1 and sent[0][1] == "sent"

        staff_id = (await h.store.staff.by_telegram_id(STAFF)).id  # type: ignore[union-attr]
        colleague_id = (await h.store.staff.by_telegram_id(COLLEAGUE)).id  # type: ignore[union-attr]
        assert await h.store.drafts.for_staff(staff_id) is None
        assert await h.store.drafts.for_staff(colleague_id) is not None
        drops = [(e.action, e.subject) for e in await h.store.audit.since() if e.action == "draft.expire"]
        assert len(drops) == 1 and drops[0][1].startswith("draft:")
        await staff.send("/visit")  # starts afresh: no offer to resume the dropped draft
        assert staff.last is not None and "活動内容" in staff.last.text and "続けますか" not in staff.last.text


async def test_a_draft_answered_after_it_was_read_is_kept(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "fieldbot.sqlite3", Sealer.from_text(TEST_KEY))
    try:
        now = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
        admin = await store.staff.ensure_admin(1001, now)
        async with store.unit(None, now) as tx:
            draft = await store.drafts.create(
                tx, staff_id=admin.id, chat_id=1001, kind="visit", state="{}", boot_id="a", now=now
            )
        [read] = await store.drafts.untouched_since(now + timedelta(days=31))
        async with store.unit(None, now) as tx:
            await store.drafts.update(tx, read, state='{"x": 1}', boot_id="a", now=now + timedelta(days=31))
        async with store.unit(None, now) as tx:
            assert not await store.drafts.expire(tx, read, ("draft-expired:1:x", 1001, "note"))
        assert await store.drafts.expiry_notes() == []
        assert (await store.drafts.get(draft.id)) is not None
    finally:
        await store.close()


class FlakySender:
    """Answers each send with the next outcome: None delivers, else a DeliveryError with that outcome."""

    def __init__(self, outcomes: list[str | None]) -> None:
        self.outcomes = outcomes
        self.delivered: list[tuple[int, str]] = []

    async def text(self, chat_id: int, text: str, buttons: Rows = ()) -> None:
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise DeliveryError(outcome, "simulated")
        self.delivered.append((chat_id, text))

    async def photo(self, chat_id: int, png: bytes, caption: str) -> None:
        raise AssertionError("no photo")


async def test_a_note_refused_is_sent_at_a_later_tick_and_one_maybe_delivered_is_not_repeated(
    store: Store, taxonomy: Taxonomy
) -> None:
    now = tokyo(12, 25, 10)
    clock = ManualClock(now)
    state = flow.start("visit", FlowContext(taxonomy, date(2026, 11, 23), "west"), "kyonan").model_dump_json()
    for telegram_id in (1001, 1002):
        owner = await store.staff.ensure_admin(telegram_id, now)
        async with store.unit(None, now) as tx:
            await store.drafts.create(
                tx,
                staff_id=owner.id,
                chat_id=telegram_id,
                kind="visit",
                state=state,
                boot_id="a",
                now=now - timedelta(days=40),
            )
    await store.meta.put(DraftExpiryService.WATCH, utc_iso(now - timedelta(days=1)))
    sender = FlakySender(["retry", "unknown", None])
    expiry = DraftExpiryService(store, taxonomy, sender, clock, TOKYO, 30)
    assert await expiry.run() == 2
    assert sender.delivered == [] and [chat for _, chat, _ in await store.drafts.expiry_notes()] == [1001]
    clock.advance(timedelta(minutes=1))
    assert await expiry.run() == 0  # no second drop tonight; the refused note goes now
    assert sender.delivered == [(1001, DROPPED_NOTE)] and await store.drafts.expiry_notes() == []
    assert sorted(status for _, status, _ in await store.outbox.history("draft-expired")) == ["sent", "unknown"]
    clock.advance(timedelta(days=1))
    assert await expiry.run() == 0 and sender.outcomes == []  # nothing left to send, nothing sent again


def test_draft_retention_days_is_a_setting_of_at_least_one_day() -> None:
    assert load_settings(_env_file=None).draft_retention_days == 30
    assert load_settings(_env_file=None, draft_retention_days=7).draft_retention_days == 7
    with pytest.raises(SettingsError, match=r"^setting DRAFT_RETENTION_DAYS: must be at least 1"):
        load_settings(_env_file=None, draft_retention_days=0)


# --- the real process and the terminal --------------------------------------------------------------------------


def a_zone_where_it_is_midday() -> str:
    """A fixed-offset zone in which it is about noon now: the nightly job runs at the process's first tick."""
    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


@pytest.mark.slow
async def test_killed_between_the_drop_and_the_note_the_note_arrives_once(tmp_path: Path) -> None:
    database = tmp_path / "fieldbot.sqlite3"
    await prepare_database(database, (STAFF, Role.STAFF, "west", "kyonan"))
    now = datetime.now(UTC)
    store = await Store.open(database, Sealer.from_text(TEST_KEY))
    staff = await store.staff.by_telegram_id(STAFF)
    assert staff is not None
    state = flow.start("visit", FlowContext(load_taxonomy(), date(2026, 11, 23), "west"), "kyonan")
    async with store.unit(None, now) as tx:
        await store.drafts.create(
            tx,
            staff_id=staff.id,
            chat_id=STAFF,
            kind="visit",
            state=state.model_dump_json(),
            boot_id="x",
            now=now - timedelta(days=40),
        )
    await store.meta.put(DraftExpiryService.WATCH, utc_iso(now - timedelta(days=1)))  # last night's run
    await store.close()
    settings = {"TIMEZONE": a_zone_where_it_is_midday(), "DIGEST_SCHEDULE": "off"}
    async with LocalBotApi() as api:
        user = api.user(STAFF)  # has started the bot: its private chat exists
        process = BotProcess(api, database, tmp_path / "bot.log", **settings)
        process.start(FIELDBOT_CRASH_AT="draft.dropped")  # the first tick drops the draft, then dies
        try:
            assert await process.exited() == -9
            assert integrity(database) == "ok"
            with sqlite3.connect(database) as connection:
                assert connection.execute("SELECT count(*) FROM drafts").fetchone()[0] == 0
            process.start()
            await api.wait_for(lambda: len(notes_to(user)) == 1, timeout=60, what="the note")
            await api.wait_for(lambda: api.polls_waiting > 0, timeout=60, what="the bot process polling")
            assert await process.terminate() == 0
            process.start()
            await api.wait_for(lambda: api.polls_waiting > 0, timeout=60, what="the bot process polling")
            assert await process.terminate() == 0
        finally:
            if process.process and process.process.poll() is None:
                process.kill()
        assert notes_to(user) == [DROPPED_NOTE]


@pytest.mark.slow
async def test_purge_lists_and_erases_old_follow_up_text_and_memos_by_the_clock_now(tmp_path: Path) -> None:
    database = tmp_path / "fieldbot.sqlite3"
    await prepare_database(database, (STAFF, Role.STAFF, "west", "kyonan"))
    long_ago, now = datetime.now(UTC) - timedelta(days=400), datetime.now(UTC)
    store = await Store.open(database, Sealer.from_text(TEST_KEY))
    staff = await store.staff.by_telegram_id(STAFF)
    assert staff is not None
    for saved in (long_ago, now):
        async with store.unit(None, saved) as tx:
            outing = NewOuting("outing", "salon-elderly", None)
            submission = Submission(staff.id, saved.date(), "kyonan", outing, (), SECRET_MEMO)
            await store.records.save_submission(tx, submission, "visit", saved)
    await store.close()
    env = {"DATABASE_PATH": str(database), "FIELD_ENCRYPTION_KEY": TEST_KEY}

    dry = fieldbot(tmp_path, "purge", "--dry-run", **env)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0].startswith("この端末の時計 ") and lines[0].endswith("（前回の夜間処理：なし）")
    assert lines[1] == t("cli.purge.followups_dry", days=365, count=0)
    assert lines[2] == t("cli.purge.memos_dry", days=365, count=1)
    assert lines[3] == t("cli.purge.memo_line", id=1, saved=f"{long_ago.astimezone(TOKYO):%Y-%m-%d}")
    assert SECRET_MEMO not in dry.stdout + dry.stderr

    done = fieldbot(tmp_path, "purge", **env)
    assert done.returncode == 0, done.stderr
    assert t("cli.purge.memos_done", days=365, count=1) in done.stdout.splitlines()
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT id, memo IS NULL FROM submissions ORDER BY id").fetchall()
        assert rows == [(1, 1), (2, 0)]
        audit = connection.execute("SELECT action, subject, detail FROM audit WHERE action = 'memo.erase'").fetchall()
        assert audit == [("memo.erase", "submission:1", "retention")]
        # The last nightly run was tomorrow by this clock: it went back, and purge erases nothing.
        tomorrow = utc_iso(now + timedelta(days=1))
        connection.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (RetentionService.WATCH, tomorrow))
    refused = fieldbot(tmp_path, "purge", **env)
    assert refused.returncode == 2
    assert "前回の夜間処理" in refused.stderr and "何も消していません" in refused.stderr
