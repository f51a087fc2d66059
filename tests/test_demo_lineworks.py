"""Demo mode on LINE WORKS: `fieldbot demo --messenger lineworks` driven through a pseudo-terminal, and the chat's
buttons against the LINE WORKS simulator."""

from __future__ import annotations

import io
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.accounts import lineworks_account
from core.i18n import t
from demo.console import TerminalWriter
from demo.lineworks import DEMO_LINEWORKS_USER, LineWorksChat
from demo.seed import DEMO_AREA
from handlers.lineworks.adapter import menu_actions
from simulator.lineworks import LineWorksSimulator, SentMessage
from tests.test_demo import PROMPT, TIMEOUT, TOKYO, number_of, terminal

MENU = [str(action["label"]) for action in menu_actions()]


@pytest.mark.slow  # starts a `fieldbot` process
def test_a_plain_outing_on_lineworks_recorded_by_pressing_numbers_in_the_terminal(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    with terminal(["demo", "--messenger", "lineworks", "--data", str(data)], tmp_path) as term:
        shown = term.read_until(lambda s: s.endswith(PROMPT))
        name = t("demo.lineworks.user_name")
        welcome = t("demo.lineworks.welcome", name=name, role=t("role.admin"), data=data)
        assert t("demo.seeding") in shown and welcome in shown
        # the persistent menu's four buttons, offered as m1 … m4
        menu = t("demo.menu", buttons="   ".join(f"[m{i}] {label}" for i, label in enumerate(MENU, 1)))
        assert len(MENU) == 4 and menu in shown

        shown = term.type("m1")  # 記録する
        assert "境南町" in shown and "活動内容" in shown
        shown = term.type(number_of(shown, "活動先への出向き・参加"))
        shown = term.type(number_of(shown, "高齢者サロン"))
        shown = term.type(number_of(shown, "スキップ"))
        shown = term.type(number_of(shown, "なかった"))
        assert "入力内容の確認" in shown and "支援先：高齢者サロン" in shown
        shown = term.type(number_of(shown, "💾 保存"))
        assert "保存しました" in shown

        shown = term.type("")  # Enter alone: the buttons to press now and the menu again
        assert t("demo.earlier_buttons") in shown and menu in shown

        start = len(term.output)
        os.write(term.master, b"q\n")
        term.read_until(lambda s: t("demo.bye", data=data) in s, start)
        assert term.process.wait(timeout=TIMEOUT) == 0

    today = datetime.now(UTC).astimezone(TOKYO).date().isoformat()
    with sqlite3.connect(data / "fieldbot.sqlite3") as db:
        person = db.execute(
            "SELECT name, role, area FROM staff WHERE telegram_id = ?", (lineworks_account(DEMO_LINEWORKS_USER),)
        ).fetchone()
        rows = db.execute(
            "SELECT o.area, o.activity, o.destination, o.headcount FROM outings o "
            "JOIN staff s ON s.id = o.staff_id WHERE s.telegram_id = ? AND o.date = ?",
            (lineworks_account(DEMO_LINEWORKS_USER), today),
        ).fetchall()
    assert person == (name, "admin", DEMO_AREA)
    assert rows == [(DEMO_AREA, "outing", "salon-elderly", None)]


def quick_reply(text: str, *actions: dict[str, Any]) -> dict[str, Any]:
    return {"type": "text", "text": text, "quickReply": {"items": [{"action": a} for a in actions]}}


async def test_numbers_press_the_newest_message_s_items_and_the_form_s_item_prints_its_link() -> None:
    """In process, no bot: messages put in the simulator's log as if the bot had sent them."""
    url = "http://127.0.0.1:8765/note/1/abc"
    async with LineWorksSimulator() as sim:
        sim.persistent_menu = menu_actions()
        out = io.StringIO()
        chat = LineWorksChat(sim, DEMO_LINEWORKS_USER, TerminalWriter(out), echo=False)
        old = quick_reply("前の質問", {"type": "postback", "label": "古い", "data": "x", "displayText": "古い"})
        form = {"type": "uri", "label": t("flow.form.button"), "uri": url}
        now = quick_reply(
            "記録を入力してください", {"type": "postback", "label": "保存", "data": "s", "displayText": "保存"}, form
        )
        sim.sent += [SentMessage(DEMO_LINEWORKS_USER, False, old), SentMessage(DEMO_LINEWORKS_USER, False, now)]
        assert chat.render()
        shown = out.getvalue()
        assert "[-] 古い" in shown and "[1] 保存" in shown and f"[2] {t('flow.form.button')}" in shown
        assert "[m4] " + t("lineworks.menu_help") in shown

        start = len(out.getvalue())
        assert await chat.handle("２")  # full-width, from a Japanese input method
        assert out.getvalue()[start:].splitlines() == [t("demo.open_form"), f"  {url}"]
        assert sim.callbacks == []  # a uri action tells the bot nothing

        start = len(out.getvalue())
        await chat.handle("3")
        assert out.getvalue()[start:].strip() == t("demo.no_button", number=3)
        start = len(out.getvalue())
        await chat.handle("m5")
        assert out.getvalue()[start:].strip() == t("demo.no_menu", number=5)

        # No bot listens here: the press is posted as LINE WORKS would, and its failure said in Japanese.
        start = len(out.getvalue())
        await chat.handle("1")
        assert [c.event.get("data") for c in sim.callbacks] == ["s"]
        assert out.getvalue()[start:].strip() == t("demo.lineworks.not_taken")
        await chat.handle("m1")
        assert sim.callbacks[-1].event["content"] == {"type": "text", "text": MENU[0], "postback": "/visit"}
        assert not chat.render()  # nothing new from the bot
