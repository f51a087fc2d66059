"""The bot on LINE WORKS, end to end: the real bot's LINE WORKS front end over HTTP with the LINE WORKS simulator.
Every screen is a new message with quick replies; old buttons stay pressable and change nothing; personal text goes
through the note form only; staff register with an invite code."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.accounts import lineworks_account
from core.i18n import t
from core.models import Role
from tests.lineworks.harness import ADMIN_USER, lineworks_running
from tests.test_note_form import submit

LABEL = "Bさん LWLABEL-4410"
REASON = "LWREASON-2291 通院の付き添いが必要"


async def test_a_plain_outing_takes_as_many_presses_as_on_telegram(tmp_path: Path) -> None:
    async with lineworks_running(tmp_path) as lw:
        staff = await lw.register("taro@council.example")
        await staff.menu(t("lineworks.menu_record"))  # the persistent menu: as Telegram's keyboard button
        assert "11/23(月)・境南町" in staff.last and "活動内容" in staff.last
        for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった"):
            await staff.press(label)
        assert "入力内容の確認" in staff.last
        await staff.press("💾 保存")
        assert staff.presses == 5  # as on Telegram (tests/test_e2e_visit.py)
        assert "保存しました" in staff.last
        rows = await lw.h.store.db.fetchall("SELECT date, area, activity, destination, headcount FROM outings")
        assert [tuple(r) for r in rows] == [("2026-11-23", "kyonan", "outing", "salon-elderly", None)]
        assert await lw.h.count("drafts") == 0
        # every screen a new message: the menu press, five answers (the last one's card and its undo)
        assert len(staff.contents) >= 6


async def test_a_press_on_an_old_message_changes_nothing_and_shows_the_question_again(tmp_path: Path) -> None:
    async with lineworks_running(tmp_path) as lw:
        staff = await lw.register("hanako@council.example")
        await staff.send("/visit")
        first = staff.contents[-1]
        await staff.press("活動先への出向き・参加")
        await staff.press("高齢者サロン")
        version = await lw.h.store.db.fetchone("SELECT version, state FROM drafts")
        assert version is not None
        old = next(i["action"] for i in first["quickReply"]["items"] if i["action"]["label"] == "相談対応")
        await staff.postback(old["data"])
        assert staff.last.startswith(t("common.expired"))
        assert "スキップ" in staff.labels()  # the question the draft is really on (how many came)
        after = await lw.h.store.db.fetchone("SELECT version, state FROM drafts")
        assert after is not None and tuple(after) == tuple(version)


async def test_an_unregistered_person_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    async with lineworks_running(tmp_path) as lw:
        stranger = lw.worker("stranger@council.example")
        for text in ("/visit", "こんにちは"):
            await stranger.send(text)
        assert len(stranger.texts) == 2
        refusal = "申し訳ありません。このボットは登録された職員だけが使えます"
        assert all(text.startswith(refusal) for text in stranger.texts)
        assert all("quickReply" not in c for c in stranger.contents)
        assert await lw.h.count("drafts") == 0


async def test_an_admin_invites_on_lineworks_and_the_newcomer_registers_with_the_code(tmp_path: Path) -> None:
    async with lineworks_running(tmp_path) as lw:
        admin = lw.worker(ADMIN_USER)
        await admin.send("/invite")
        await admin.press("職員")
        await admin.press("西部圏域")
        line = next(line for line in admin.last.splitlines() if line.startswith("/start "))
        newcomer = lw.worker("jiro@council.example")
        await newcomer.send(line)
        assert "職員（西部圏域）" in newcomer.texts[0]
        staff = await lw.h.store.staff.by_telegram_id(lineworks_account("jiro@council.example"))
        assert staff is not None and (staff.role, staff.zone) == (Role.STAFF, "west")
        assert await lw.h.store.lineworks_users.user_id(staff.telegram_id or 0) == "jiro@council.example"


async def test_personal_text_is_taken_through_the_form_never_from_the_chat(tmp_path: Path) -> None:
    async with lineworks_running(tmp_path) as lw:
        staff = await lw.register("saburo@council.example")
        await staff.send("/visit")
        for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "あった", "ニーズを抱えている個人の相談"):
            await staff.press(label)
        # the agencies (18 choices) come in two pages: 「なし」 is on the second, one more press than on Telegram
        agencies = ("福祉サービス、相談機関の紹介", t("lineworks.next"), "なし（つないでいない）", "🚩 要フォローあり")
        for label in agencies:
            await staff.press(label)
        asking = staff.contents[-1]
        form = next(i["action"] for i in asking["quickReply"]["items"] if i["action"]["type"] == "uri")
        assert form["label"] == t("flow.form.button")
        before = await lw.h.store.db.fetchone("SELECT version FROM drafts")
        await staff.send(LABEL)  # typed: not kept (LINE WORKS cannot remove it from the chat), the question again
        assert t("flow.form.typing_never") in staff.last and t("flow.form.only") in staff.last
        after = await lw.h.store.db.fetchone("SELECT version FROM drafts")
        assert before is not None and after is not None and after[0] == before[0]

        form = next(i["action"] for i in staff.contents[-1]["quickReply"]["items"] if i["action"]["type"] == "uri")
        status, _ = await submit(form["uri"], LABEL)
        assert status == 200
        assert staff.last.startswith(t("flow.form.received"))
        form = next(i["action"] for i in staff.contents[-1]["quickReply"]["items"] if i["action"]["type"] == "uri")
        status, _ = await submit(form["uri"], REASON)
        assert status == 200
        sent = json.dumps(lw.sim.messages("saburo@council.example"), ensure_ascii=False)
        assert "LWREASON-2291" not in sent and "通院の付き添い" not in sent
        state = await lw.h.store.db.fetchone("SELECT state FROM drafts")
        assert state is not None and "LWREASON-2291" not in str(state[0])  # sealed


async def test_a_long_list_is_paged_and_a_choice_on_page_two_keeps_page_two(tmp_path: Path) -> None:
    async with lineworks_running(tmp_path) as lw:
        staff = await lw.register("shiro@council.example")
        await staff.send("/visit")
        for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "あった", "ニーズを抱えている個人の相談"):
            await staff.press(label)
        await staff.press("福祉サービス、相談機関の紹介")
        labels = staff.labels()
        assert len(labels) == 13 and labels[-1] == t("lineworks.next")
        await staff.press(t("lineworks.next"))
        second = staff.labels()
        assert second[0] == t("lineworks.previous")
        choice = next(label for label in second[1:] if label not in labels)
        await staff.press(choice)
        assert staff.labels()[0] == t("lineworks.previous")  # the new screen opens at the page pressed


async def test_a_council_on_lineworks_alone_runs_without_a_telegram_token(tmp_path: Path) -> None:
    async with lineworks_running(tmp_path, telegram=False) as lw:
        bot = lw.h.bot
        assert bot is not None and bot.application is None and bot.poller is None
        staff = await lw.register("goro@council.example")
        await staff.menu(t("lineworks.menu_record"))
        for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった", "💾 保存"):
            await staff.press(label)
        assert await lw.h.count("outings") == 1
        assert lw.sim.persistent_menu is not None and [a["label"] for a in lw.sim.persistent_menu] == [
            t("lineworks.menu_record"),
            t("lineworks.menu_followups"),
            t("lineworks.menu_tally"),
            t("lineworks.menu_help"),
        ]
        # its admin (ADMIN_LINEWORKS_IDS) is an admin, and the digest reaches a LINE WORKS supervisor
        admin = lw.worker(ADMIN_USER)
        await admin.send("/staff")
        assert "goro@council.example" in admin.last
        await admin.menu(t("lineworks.menu_help"))
        assert admin.last.startswith(t("lineworks.help_menu")) and "/invite" in admin.last
        # the note form works without a Telegram bot: its links name the LINE WORKS bot
        await staff.send("/visit")
        for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "あった", "ニーズを抱えている個人の相談"):
            await staff.press(label)
        for label in (
            "福祉サービス、相談機関の紹介",
            t("lineworks.next"),
            "なし（つないでいない）",
            "🚩 要フォローあり",
        ):
            await staff.press(label)
        form = next(i["action"] for i in staff.contents[-1]["quickReply"]["items"] if i["action"]["type"] == "uri")
        assert "/note/-2000001/" in form["uri"]
        status, _ = await submit(form["uri"], LABEL)
        assert status == 200 and staff.last.startswith(t("flow.form.received"))
        supervisor = await lw.register("boss@council.example", Role.SUPERVISOR)
        await lw.h.store.meta.put("installed_at", "2026-11-01T00:00:00.000000Z")
        lw.h.clock.set(datetime(2026, 11, 29, 23, 31, tzinfo=UTC))
        await lw.h.tick()
        assert any("週間ダイジェスト｜11/23(月)〜11/29(日)" in text for text in supervisor.texts)


@pytest.mark.parametrize("telegram", [True, False])
async def test_serve_takes_lineworks_callbacks_beside_telegram_webhooks(tmp_path: Path, telegram: bool) -> None:
    async with lineworks_running(tmp_path, serve=True, telegram=telegram) as lw:
        staff = await lw.register("rokuro@council.example")
        await staff.send("/visit")
        for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった", "💾 保存"):
            await staff.press(label)
        assert await lw.h.count("outings") == 1
        rows = await lw.h.store.db.fetchall("SELECT handled_at IS NOT NULL FROM inbox WHERE bot_id < 0")
        assert len(rows) == 6 and all(r[0] for r in rows)  # every callback kept, then handled
        if telegram:  # and the Telegram bot beside it takes its webhooks on the same listener
            other = await lw.h.register(3100)
            await other.send("/visit")
            assert "活動内容" in other.last.text  # type: ignore[union-attr]


async def test_a_send_whose_answer_was_lost_is_not_repeated_and_the_flow_goes_on(tmp_path: Path) -> None:
    async with lineworks_running(tmp_path) as lw:
        staff = await lw.register("nanao@council.example")
        await staff.send("/visit")
        lw.sim.lose_answers = 1  # LINE WORKS keeps the next message, its answer never comes back
        await staff.press("活動先への出向き・参加")
        shown = [text for text in staff.texts if "どこへ出向きましたか" in text]
        assert len(shown) == 1  # delivered once, never sent again (LINE WORKS has no idempotency key)
        assert not any(t("common.error") in text for text in staff.texts)
        for label in ("高齢者サロン", "スキップ", "なかった", "💾 保存"):
            await staff.press(label)
        assert await lw.h.count("outings") == 1


async def test_a_callback_lineworks_dropped_leaves_nothing_half_done(tmp_path: Path) -> None:
    async with lineworks_running(tmp_path) as lw:
        staff = await lw.register("hachi@council.example")
        await staff.send("/visit")
        lw.sim.drop_callbacks = 1  # the press never reaches the bot (LINE WORKS will not send it again)
        lost = await lw.sim.press(staff.user_id, "活動先への出向き・参加")
        assert lost.dropped and await lw.h.count("inbox", "bot_id < 0 AND handled_at IS NULL") == 0
        await staff.press("活動先への出向き・参加")  # the person sees no answer and presses again
        for label in ("高齢者サロン", "スキップ", "なかった", "💾 保存"):
            await staff.press(label)
        assert await lw.h.count("outings") == 1


async def test_a_lineworks_room_gets_the_digest_with_counts_only(tmp_path: Path) -> None:
    async with lineworks_running(tmp_path, lineworks_digest_channel_id="room-7") as lw:
        staff = await lw.register("kuro@council.example")
        await staff.send("/visit")
        for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった", "💾 保存"):
            await staff.press(label)
        await lw.h.store.meta.put("installed_at", "2026-11-01T00:00:00.000000Z")
        lw.h.clock.set(datetime(2026, 11, 29, 23, 31, tzinfo=UTC))
        await lw.h.tick()
        room = "\n".join(str(c.get("text", "")) for c in lw.sim.messages("room-7", channel=True))
        assert "週間ダイジェスト" in room and "・活動記録 1件" in room
        assert "kuro@council.example" not in room and "境南町" not in room  # counts only: no names, no areas
        sent = len(lw.sim.messages("room-7", channel=True))
        await lw.h.tick()
        assert len(lw.sim.messages("room-7", channel=True)) == sent  # once per period, across ticks
        assert room.count("週間ダイジェスト") == 1


async def test_an_admin_gets_the_fiscal_years_files_on_lineworks(tmp_path: Path) -> None:
    async with lineworks_running(tmp_path) as lw:
        admin = lw.worker(ADMIN_USER)
        await admin.send("/export")
        await admin.press(admin.labels()[0])
        files = [lw.sim.files[c["fileId"]] for c in admin.contents if c.get("type") == "file"]
        names = sorted(name.rsplit(".", 1)[1] for name, _ in files)
        assert names == ["csv", "xlsx"]
        xlsx = next(content for name, content in files if name.endswith(".xlsx"))
        assert xlsx.startswith(b"PK")  # a zip: an XLSX workbook
