"""End to end: a follow-up flagged in an outing is listed, reminded, noted and closed, sealed and scoped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.models import Role
from core.periods import fiscal_year
from core.taxonomy import load_taxonomy
from services.reporting import Reporter
from tests.harness import Harness, running

STAFF, SUPERVISOR, OTHER_ZONE_STAFF, OTHER_ZONE_SUPERVISOR = 4001, 4002, 4003, 4004
SECRET_NOTE = "ZQX-unique-note-7731 ヘルパー調整済み"
SECRET_REASON = "REASON-unique-5521 視覚障害で買い物支援"


def database_files(folder: Path) -> dict[str, bytes]:
    """The SQLite file and its -wal / -shm companions, as bytes."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name.startswith("fieldbot.sqlite3")}


async def flag_in_an_outing(h: Harness, label: str = "境南町 80代女性 A") -> None:
    staff = h.api.user(STAFF)
    await staff.send("/visit")
    for button in (
        "活動先への出向き・参加",
        "高齢者サロン",
        "スキップ",
        "あった",
        "ニーズを抱えている個人の相談",
        "福祉サービス、相談機関の紹介",
        "スキップ?",  # the topic, where the taxonomy asks it for this consulter
        "なし（つないでいない）",
        "🚩 要フォローあり",
    ):
        shown = button.removesuffix("?")
        if shown != button and not any(shown in row for row in staff.last.buttons):  # type: ignore[union-attr]
            continue
        await staff.press(shown)
    await staff.send(label)
    await staff.send(SECRET_REASON)
    await staff.press("1週間")
    await staff.press("✅ 相談入力を終える")
    await staff.press("💾 保存")


async def test_a_follow_up_is_listed_reminded_noted_and_closed_and_scoped(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF)
        supervisor = await h.register(SUPERVISOR, Role.SUPERVISOR)
        outsider = await h.register(OTHER_ZONE_STAFF, zone="central", area="chuo")
        other_supervisor = await h.register(OTHER_ZONE_SUPERVISOR, Role.SUPERVISOR, zone="central", area="chuo")
        await flag_in_an_outing(h)
        # the typed reason was removed from the chat once sealed in the draft
        assert not any(SECRET_REASON in m.text for m in h.api.chat(STAFF).history if not m.from_bot and not m.deleted)

        await staff.send("/followups")
        listing = staff.last.text  # type: ignore[union-attr]
        assert "対応中 1件" in listing and "境南町 80代女性 A（境南町）期日 11/30(月)" in listing
        await supervisor.send("/followups")
        assert "境南町 80代女性 A" in supervisor.last.text and "担当 職員4001" in supervisor.last.text  # type: ignore[union-attr]
        for other in (outsider, other_supervisor):
            await other.send("/followups")
            assert "境南町 80代女性 A" not in other.last.text and "対応中 0件" in other.last.text  # type: ignore[union-attr]
        followup_id = (await h.store.db.fetchone("SELECT id FROM followups"))[0]  # type: ignore[index]
        assert await outsider.press_data(outsider.last.message_id, f"fx:{followup_id}") == "この操作は期限切れです"  # type: ignore[union-attr]

        # reminders: nothing before the due date at 09:00, one on it, none repeated, again a week later
        h.clock.set(datetime(2026, 11, 29, 23, 59, tzinfo=UTC))  # 30 Nov 08:59 in Tokyo
        await h.tick()
        assert not [m for m in staff.messages if m.text.startswith("🔔")]
        h.clock.set(datetime(2026, 11, 30, 0, 1, tzinfo=UTC))  # 09:01
        await h.tick()
        await h.restart()
        await h.tick()
        reminders = [m for m in staff.messages if m.text.startswith("🔔 要フォローの期日です")]
        assert len(reminders) == 1 and "境南町 80代女性 A" in reminders[0].text
        assert SECRET_REASON not in reminders[0].text
        h.clock.advance(timedelta(days=6))
        await h.tick()
        assert len([m for m in staff.messages if m.text.startswith("🔔")]) == 1
        h.clock.advance(timedelta(days=1))
        await h.tick()
        assert len([m for m in staff.messages if m.text.startswith("🔔")]) == 2

        # a note from the reminder's buttons; the typed note leaves the chat, sealed in the database
        await staff.press("📝 メモ追加")
        await staff.send(SECRET_NOTE)
        assert staff.last.text.startswith("メモを保存しました。")  # type: ignore[union-attr]
        assert not any(SECRET_NOTE in m.text for m in h.api.chat(STAFF).messages)
        await supervisor.send("/followups")
        await supervisor.press("境南町 80代女性 A")
        await supervisor.press("🔒 理由とメモを見る")
        detail = supervisor.last.text  # type: ignore[union-attr]
        assert SECRET_REASON in detail and SECRET_NOTE in detail and "職員4001" in detail

        # closing asks the outcome
        await staff.send("/followups")
        await staff.press("境南町 80代女性 A")
        await staff.press("✅ 完了")
        assert await staff.press("見守り継続") == "完了にしました"
        row = await h.store.db.fetchone("SELECT status, outcome FROM followups WHERE id = ?", (followup_id,))
        assert row is not None and tuple(row) == ("closed", "watching")
        await staff.send("/followups")
        assert "対応中 0件" in staff.last.text  # type: ignore[union-attr]

        actions = [(e.action, e.actor_name) for e in await h.store.audit.since()]
        assert ("followup.note", "職員4001") in actions
        assert ("followup.view", "職員4002") in actions
        assert ("followup.close", "職員4001") in actions


async def test_a_supervisor_reassigns_and_moves_the_due_date_within_the_zone(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        await h.register(STAFF)
        colleague = await h.register(STAFF + 50)
        supervisor = await h.register(SUPERVISOR, Role.SUPERVISOR)
        await h.register(OTHER_ZONE_STAFF, zone="central", area="chuo")
        await flag_in_an_outing(h)
        await supervisor.send("/followups")
        await supervisor.press("境南町 80代女性 A")
        await supervisor.press("👤 担当変更")
        names = [row[0] for row in supervisor.last.buttons]  # type: ignore[union-attr]
        assert "職員4051" in names and "職員4003" not in names and "職員4001" not in names
        assert await supervisor.press("職員4051") == "担当を職員4051さんに変更しました。"
        await supervisor.press("📅 期日変更")
        await supervisor.press("日付入力")
        await supervisor.send("12/24")
        assert "2026年12月24日" in supervisor.last.text  # type: ignore[union-attr]
        await colleague.send("/followups")
        assert "境南町 80代女性 A" in colleague.last.text and "12/24" in colleague.last.text  # type: ignore[union-attr]
        staff = h.api.user(STAFF)
        await staff.send("/followups")
        assert "対応中 0件" in staff.last.text  # type: ignore[union-attr]


@pytest.mark.sqlite_only  # the SQLite file and its WAL, read as bytes
async def test_the_database_file_and_its_wal_never_hold_a_note_or_reason_in_clear(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF)
        await flag_in_an_outing(h)
        await staff.send("/followups")
        await staff.press("境南町 80代女性 A")
        await staff.press("📝 メモ追加")
        await staff.send(SECRET_NOTE)
        files = await asyncio.to_thread(database_files, tmp_path)
        assert any(name.endswith("-wal") for name in files)
        for name, data in files.items():
            path = name
            for secret in (SECRET_NOTE, SECRET_REASON):
                for form in (secret.encode("utf-8"), secret.encode("utf-16-le"), secret.split()[0].encode()):
                    assert form not in data, (path, secret)
        detail = await h.store.followups.detail(1, None, h.clock.now())
        assert detail is not None and detail.reason == SECRET_REASON and detail.notes[0].body == SECRET_NOTE


async def test_reminders_are_neither_lost_nor_repeated_across_restarts(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF)
        await flag_in_an_outing(h)
        await h.stop()
        h.clock.set(datetime(2026, 12, 2, 1, 0, tzinfo=UTC))  # down on the due date; back two days later
        await h.start()
        for _ in range(3):
            await h.tick()
            await h.restart()
        reminders = [m for m in staff.messages if m.text.startswith("🔔")]
        assert len(reminders) == 1
        keys = [key for key, status, _ in await h.store.outbox.history("reminder") if status == "sent"]
        assert keys == ["reminder:1:2026-12-02"]


async def test_retention_erases_the_text_after_the_period_and_reports_stay_identical(tmp_path: Path) -> None:
    async with running(tmp_path, retention_days=30) as h:
        staff = await h.register(STAFF)
        await flag_in_an_outing(h)
        await staff.send("/followups")
        await staff.press("境南町 80代女性 A")
        await staff.press("📝 メモ追加")
        await staff.send(SECRET_NOTE)
        await staff.press("✅ 完了")
        await staff.press("解決")
        reporter = Reporter(h.store, load_taxonomy())
        before = (await reporter.report(fiscal_year(2026))).model_dump_json()
        h.clock.advance(timedelta(days=29))
        await h.tick()
        assert (await h.store.followups.detail(1, None, h.clock.now())).reason == SECRET_REASON  # type: ignore[union-attr]
        h.clock.advance(timedelta(days=2))
        h.clock.set(h.clock.now().replace(hour=19))  # 04:00 in Tokyo: after the nightly hour
        await h.tick()
        h.clock.advance(timedelta(days=1))  # erased once two nightly runs have seen it due (issue 13)
        await h.tick()
        detail = await h.store.followups.detail(1, None, h.clock.now())
        assert detail is not None and detail.reason is None and detail.notes == []
        assert detail.followup.label == "(削除済)"
        assert (await reporter.report(fiscal_year(2026))).model_dump_json() == before
        assert ("followup.erase", None) in [(e.action, e.actor_name) for e in await h.store.audit.since()]


async def test_retention_after_a_gap_between_runs_waits_for_the_next_night_then_erases(tmp_path: Path) -> None:
    """The bot ran on day 29 and next on day 31: to it, a gap looks like a clock that jumped, so the run on day 31
    (the first to see the follow-up due) keeps it, and the run of the night after erases it (issue 13)."""
    async with running(tmp_path, retention_days=30) as h:
        staff = await h.register(STAFF)
        await flag_in_an_outing(h)
        await staff.send("/followups")
        await staff.press("境南町 80代女性 A")
        await staff.press("📝 メモ追加")
        await staff.send(SECRET_NOTE)
        await staff.press("✅ 完了")
        await staff.press("解決")
        reporter = Reporter(h.store, load_taxonomy())
        before = (await reporter.report(fiscal_year(2026))).model_dump_json()
        h.clock.advance(timedelta(days=29))
        await h.tick()
        h.clock.advance(timedelta(days=2))
        h.clock.set(h.clock.now().replace(hour=19))  # 04:00 in Tokyo: after the nightly hour
        await h.tick()
        assert (await h.store.followups.detail(1, None, h.clock.now())).reason == SECRET_REASON  # type: ignore[union-attr]
        h.clock.advance(timedelta(days=1))
        await h.tick()
        detail = await h.store.followups.detail(1, None, h.clock.now())
        assert detail is not None and detail.reason is None and detail.notes == []
        assert detail.followup.label == "(削除済)"
        assert (await reporter.report(fiscal_year(2026))).model_dump_json() == before
        assert ("followup.erase", None) in [(e.action, e.actor_name) for e in await h.store.audit.since()]
