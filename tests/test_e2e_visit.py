"""End to end over HTTP: staff record outings and consultations with the real bot and the local Bot API."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from core.models import Role
from simulator.botapi import SimUser
from storage.sqlite.seal import place
from tests.harness import ADMIN_ID, running

STAFF_ID = 2001


class Taps:
    """Counts button presses, as the acceptance criteria count them."""

    def __init__(self, user: SimUser) -> None:
        self.user = user
        self.count = 0

    async def __call__(self, label: str) -> str | None:
        self.count += 1
        return await self.user.press(label)


async def test_an_unregistered_person_gets_a_polite_refusal_and_nothing_else(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        stranger = h.api.user(999, first_name="通りすがり")
        for text in ("/start", "/visit", "こんにちは", "出向き記録"):
            await stranger.send(text)
        texts = [m.text for m in stranger.messages]
        assert len(texts) == 4
        assert all(t.startswith("申し訳ありません。このボットは登録された職員だけが使えます") for t in texts)
        assert all(not m.buttons and m.reply_keyboard is None for m in stranger.messages)
        assert await h.count("drafts") == 0


async def test_an_admin_invites_a_staff_member_who_registers_with_the_link(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        await admin.send("/invite")
        await admin.press("職員")
        await admin.press("西部圏域")
        text = admin.last.text  # type: ignore[union-attr]
        assert "1回限り" in text
        link = next(line for line in text.splitlines() if line.startswith("https://t.me/"))
        assert link.startswith(f"https://t.me/{h.api.bot_username}?start=")
        code = link.rsplit("=", 1)[1]
        stored = await h.store.db.fetchall("SELECT code_hash FROM invites")
        assert len(stored) == 1 and code not in stored[0][0]  # stored hashed, never in clear

        newcomer = h.api.user(STAFF_ID, first_name="花子", last_name="山田")
        await newcomer.send(f"/start {code}")
        assert "山田 花子さん" in newcomer.messages[0].text and "職員（西部圏域）" in newcomer.messages[0].text
        assert newcomer.messages[0].reply_keyboard == [["出向き記録", "相談記録"], ["フォロー一覧", "今週の自分の記録"]]
        await newcomer.press("境南町")
        assert "境南町" in newcomer.last.text  # type: ignore[union-attr]
        staff = await h.store.staff.by_telegram_id(STAFF_ID)
        assert staff is not None and (staff.role, staff.zone, staff.area) == (Role.STAFF, "west", "kyonan")

        # The code is single-use: a second person is refused.
        other = h.api.user(STAFF_ID + 1, first_name="次郎")
        await other.send(f"/start {code}")
        assert "すでに使われています" in other.last.text  # type: ignore[union-attr]
        assert await h.store.staff.by_telegram_id(STAFF_ID + 1) is None


async def test_an_invite_expires_after_72_hours(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        await admin.send("/invite")
        await admin.press("管理者")
        code = admin.last.text.rsplit("start=", 1)[1].strip()  # type: ignore[union-attr]
        h.clock.advance(timedelta(hours=72))
        late = h.api.user(STAFF_ID, first_name="遅刻")
        await late.send(f"/start {code}")
        assert "有効期限" in late.last.text  # type: ignore[union-attr]


async def test_a_deactivated_staff_member_loses_access_at_once_even_mid_flow(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        await staff.send("/visit")
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        await admin.send("/staff")
        assert f"職員{STAFF_ID}" in admin.last.text  # type: ignore[union-attr]
        await admin.press(f"停止：職員{STAFF_ID}")
        await admin.press("停止する")
        assert "停止しました" in admin.last.text  # type: ignore[union-attr]
        toast = await staff.press("相談対応")
        assert toast == "利用が停止されています。管理者にお問い合わせください。"
        await staff.send("/visit")
        assert staff.last.text.startswith("利用が停止されています")  # type: ignore[union-attr]


async def test_a_plain_outing_is_saved_in_at_most_six_presses(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        tap = Taps(staff)
        await staff.send("/visit")
        question = staff.last
        assert question is not None and "11/23(月)・境南町" in question.text and "活動内容" in question.text
        await tap("活動先への出向き・参加")
        await tap("高齢者サロン")
        await tap("スキップ")
        await tap("なかった")
        assert "入力内容の確認" in staff.last.text  # type: ignore[union-attr]
        toast = await tap("💾 保存")
        assert toast == "保存しました"
        assert tap.count <= 6
        assert staff.last.text.startswith("✅ 保存しました")  # type: ignore[union-attr]
        rows = await h.store.db.fetchall("SELECT date, area, activity, destination, headcount FROM outings")
        assert [tuple(r) for r in rows] == [("2026-11-23", "kyonan", "outing", "salon-elderly", None)]
        assert await h.count("consultations") == 0 and await h.count("drafts") == 0


async def test_one_consultation_with_one_referral_is_saved_in_at_most_ten_presses(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        tap = Taps(staff)
        await staff.send("出向き記録")  # the persistent keyboard button
        for label in (
            "活動先への出向き・参加",
            "高齢者サロン",
            "10人",
            "あった",
            "ニーズを抱えている個人の相談",
            "福祉サービス、相談機関の紹介",
            "高齢者支援課",
            "決定（1件）",
            "✅ フォローなし・相談入力を終える",
            "💾 保存",
        ):
            await tap(label)
        assert tap.count <= 10
        consultation = await h.store.db.fetchone(
            "SELECT channel, consulter, consulter_category, topic, at_outing FROM consultations"
        )
        assert consultation is not None
        assert tuple(consultation) == ("outing", "individual", "services", None, 1)  # a topic is the agencies' only
        agencies = await h.store.db.fetchall("SELECT agency FROM consultation_agencies")
        assert [a[0] for a in agencies] == ["elderly"]


async def test_an_outing_with_two_consultations_several_agencies_and_a_follow_up(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        await staff.send("/visit")
        for label in ("活動先への出向き・参加", "居場所", "スキップ", "あった"):
            await staff.press(label)
        # first consultation: two agencies and a follow-up with a typed label and a typed due date
        for label in (
            "ニーズを抱えている個人の相談",
            "近況報告など",
            "高齢者支援課",
            "在宅介護・地域包括支援センター",
        ):
            await staff.press(label)
        await staff.press("決定（2件）")
        await staff.press("🚩 要フォローあり")
        assert "氏名は書かないでください" in staff.last.text  # type: ignore[union-attr]
        await staff.send("境南町 80代女性 A")
        assert "暗号化して保存" in staff.last.text  # type: ignore[union-attr]
        await staff.send("買い物支援が月2回必要")
        await staff.press("日付入力")
        await staff.send("12/7")
        await staff.press("➕ 次の相談へ")
        # second consultation: three agencies, no follow-up
        for label in (
            "地域活動団体からの相談",
            "活動費や助成金、会計処理等",
            "子ども政策課",
            "健康課",
            "市民活動推進課",
        ):
            await staff.press(label)
        await staff.press("決定（3件）")
        await staff.press("✅ フォローなし・相談入力を終える")
        card = staff.last.text  # type: ignore[union-attr]
        assert "相談：2件" in card and "境南町 80代女性 A（期日 12/7(月)）" in card
        assert "つないだ先：子ども政策課、健康課、市民活動推進課" in card
        await staff.press("💾 保存")
        assert await h.count("consultations") == 2
        assert await h.count("consultation_agencies") == 5
        followup = await h.store.db.fetchone("SELECT label, due_date, area, status FROM followups")
        assert followup is not None and tuple(followup) == ("境南町 80代女性 A", "2026-12-07", "kyonan", "open")


async def test_a_consultation_by_phone_is_recorded_with_consult(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        await staff.send("/consult")
        assert "相談経路" in staff.last.text  # type: ignore[union-attr]
        for label in (
            "電話",
            "ボランティア希望（活動）者からの相談",
            "ボランティアしたい",
            "なし（つないでいない）",
        ):
            await staff.press(label)
        await staff.press("✅ フォローなし・相談入力を終える")
        await staff.press("💾 保存")
        row = await h.store.db.fetchone("SELECT outing_id, channel, consulter, at_outing FROM consultations")
        assert row is not None and tuple(row) == (None, "phone", "volunteer", 0)
        assert await h.count("outings") == 0


async def test_back_and_edits_from_the_summary_card_change_only_what_was_asked(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        await staff.send("/visit")
        await staff.press("情報提供")
        await staff.press("◀ 戻る")
        assert "✔ 情報提供" in staff.last.buttons[3][0]  # type: ignore[union-attr]
        await staff.press("✔ 情報提供")
        await staff.press("子育てサロン")
        await staff.send("8")
        await staff.press("なかった")
        await staff.press("📅 日付")
        await staff.press("昨日 11/22(日)")
        await staff.press("支援先")
        await staff.press("子ども食堂")
        card = staff.last.text  # type: ignore[union-attr]
        assert "2026年11月22日(日)" in card and "支援先：子ども食堂" in card and "参加人数：8人" in card
        await staff.send("次回は防災訓練に参加予定")
        # The card says there is a memo, never what it says; the typed copy is removed from the chat.
        assert "メモ：あり" in staff.last.text and "防災訓練" not in staff.last.text  # type: ignore[union-attr]
        assert not any("防災訓練" in m.text for m in h.api.chat(STAFF_ID).history if not m.deleted)
        await staff.press("💾 保存")
        row = await h.store.db.fetchone(
            "SELECT o.date, o.activity, o.destination, o.headcount, s.memo, s.id "
            "FROM outings o JOIN submissions s ON s.id = o.submission_id"
        )
        assert row is not None and tuple(row)[:4] == ("2026-11-22", "info", "kodomo-shokudo", 8)
        memo = h.store.seal.open(row[4], place("submissions", "memo", row[5]))
        assert memo == "次回は防災訓練に参加予定"  # sealed at rest, for its row


async def test_cancel_asks_once_and_discards_the_draft(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        await staff.send("/visit")
        await staff.press("相談対応")
        await staff.send("/cancel")
        await staff.press("続ける")
        assert "支援先" in staff.last.text  # type: ignore[union-attr]
        await staff.send("/cancel")
        await staff.press("破棄する")
        assert staff.last.text == "入力中の記録を破棄しました。"  # type: ignore[union-attr]
        assert await h.count("drafts") == 0
        await staff.send("/cancel")
        assert staff.last.text == "入力中の記録はありません。"  # type: ignore[union-attr]


async def test_undo_within_ten_minutes_removes_the_records_and_later_it_has_expired(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        for _ in range(2):
            await staff.send("/visit")
            for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった", "💾 保存"):
                await staff.press(label)
        assert await h.count("outings") == 2
        h.clock.advance(timedelta(minutes=9))
        assert await staff.press("↩ 取り消す（10分以内）") == "保存した記録を取り消しました。"
        assert await h.count("outings") == 1
        older = [m for m in staff.messages if m.buttons == [["↩ 取り消す（10分以内）"]]]
        assert len(older) == 1
        h.clock.advance(timedelta(minutes=2))
        assert await staff.press("↩ 取り消す（10分以内）", message_id=older[0].message_id) == "この操作は期限切れです"
        assert await h.count("outings") == 1


async def test_typed_text_where_a_button_is_expected_gets_a_hint_and_the_same_question(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        await staff.send("/visit")
        await staff.press("活動先への出向き・参加")
        before = staff.last
        await staff.send("高齢者サロンに行きました")
        hint = staff.last
        assert hint is not None and before is not None and hint.message_id != before.message_id
        assert hint.text.startswith("⚠️ ボタンで選んでください。") and "支援先" in hint.text
        assert before.buttons == []  # the old question's buttons were retired
        await staff.press("高齢者サロン")
        assert "参加人数" in staff.last.text  # type: ignore[union-attr]


async def test_a_button_from_an_old_or_finished_message_has_expired_and_changes_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        await staff.send("/visit")
        first = staff.last
        assert first is not None
        stale_data = first.callback_data[0][0]
        assert stale_data is not None
        await staff.press("活動先への出向き・参加")
        assert await staff.press_data(first.message_id, stale_data) == "この操作は期限切れです"
        for label in ("高齢者サロン", "スキップ", "なかった", "💾 保存"):
            await staff.press(label)
        assert await staff.press_data(first.message_id, stale_data) == "この操作は期限切れです"
        assert await staff.press_data(first.message_id, "f:999:1:s") == "この操作は期限切れです"
        assert await staff.press_data(first.message_id, "garbage") == "この操作は期限切れです"
        assert await h.count("outings") == 1


async def test_another_persons_draft_cannot_be_driven_with_forged_data(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        owner = await h.register(STAFF_ID)
        intruder = await h.register(STAFF_ID + 1)
        await owner.send("/visit")
        data = owner.last.callback_data[0][0]  # type: ignore[union-attr]
        assert data is not None
        await intruder.send("/help")
        assert await intruder.press_data(intruder.last.message_id, data) == "この操作は期限切れです"  # type: ignore[union-attr]
        draft = await h.store.drafts.for_staff((await h.store.staff.by_telegram_id(STAFF_ID)).id)  # type: ignore[union-attr]
        assert draft is not None and draft.version == 1


async def test_a_restart_mid_flow_offers_to_resume_with_the_answers_intact(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        await staff.send("/visit")
        await staff.press("話し合い（会議・打合せ）への参加")
        await staff.press("地域社協")
        await h.restart()
        await staff.send("12")
        offer = staff.last
        assert offer is not None and "入力途中の📝 出向き記録があります" in offer.text
        await staff.press("▶ 続きから")
        assert "参加人数" in staff.last.text  # type: ignore[union-attr]
        await staff.send("12")
        await staff.press("なかった")
        assert "支援先：地域社協" in staff.last.text and "参加人数：12人" in staff.last.text  # type: ignore[union-attr]


async def test_starting_a_new_outing_over_an_unfinished_one_asks_first(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        await staff.send("/visit")
        await staff.press("その他")
        await staff.send("/consult")
        await staff.press("🗑 破棄して新しく始める")
        assert "相談経路" in staff.last.text  # type: ignore[union-attr]
        staff_id = (await h.store.staff.by_telegram_id(STAFF_ID)).id  # type: ignore[union-attr]
        draft = await h.store.drafts.for_staff(staff_id)
        assert draft is not None and draft.kind == "consult" and json.loads(draft.state)["activity"] is None


async def test_the_same_updates_delivered_twice_are_recorded_once(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        staff = await h.register(STAFF_ID)
        ids = [await staff.send("/visit")]
        for label in ("活動先への出向き・参加", "高齢者サロン"):
            await staff.press(label)
        ids.append(await staff.send("12"))  # a typed answer
        for label in ("なかった", "💾 保存"):
            await staff.press(label)
        ids += [u for u in range(ids[0], ids[-1] + 3) if u not in ids]
        sent_before = h.api.count("sendMessage") + h.api.count("editMessageText")
        # Telegram delivers every update again to a bot that restarts before confirming them.
        await h.stop()
        h.api.redeliver(*ids)
        await h.start()
        await h.api.wait_for(lambda: all(h.api.deliveries(u) == 2 for u in ids), what="every update delivered twice")
        await staff.send("/help")  # processed in order after the redeliveries
        assert await h.count("outings") == 1 and await h.count("submissions") == 1
        assert await h.count("drafts") == 0
        assert h.api.count("sendMessage") + h.api.count("editMessageText") == sent_before + 1  # only /help answered
