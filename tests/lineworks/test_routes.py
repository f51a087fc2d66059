"""The LINE WORKS front end reaches every service the Telegram one does: every button kind of the codec has a route
(a new kind without one would answer every press as expired on LINE WORKS), with the same roles, and every command
Telegram offers can be typed; events are read as a person's input or left alone (rooms)."""

from __future__ import annotations

import json

from bot.app import COMMANDS as TELEGRAM_COMMANDS
from core.buttons import kinds
from handlers.lineworks.adapter import MENU, menu_actions, parse
from handlers.lineworks.content import menu_content
from handlers.lineworks.routes import BUTTONS, COMMANDS


def test_every_button_kind_has_a_route() -> None:
    assert set(kinds().values()) == set(BUTTONS)


def test_every_telegram_command_and_the_admins_can_be_typed() -> None:
    assert set(TELEGRAM_COMMANDS) | {"invite", "staff"} <= set(COMMANDS)
    assert {command for _, command in MENU} <= set(COMMANDS)


def test_the_persistent_menu_fits_lineworks() -> None:
    actions = menu_actions()
    menu_content(actions)  # raises when a rule is broken
    assert [a["postback"] for a in actions] == ["/visit", "/followups", "/tally", "/help"]


def _event(kind: str, source: dict[str, str], **fields: object) -> str:
    return json.dumps({"type": kind, "source": source, "issuedTime": "2026-12-05T00:00:00.000Z", **fields})


def test_events_are_read_as_a_persons_input_and_rooms_are_left_alone() -> None:
    me = {"userId": "u1", "domainId": "1"}
    text = parse(_event("message", me, content={"type": "text", "text": "こんにちは"}))
    assert text is not None and (text.text, text.data) == ("こんにちは", None)
    menu = parse(_event("message", me, content={"type": "text", "text": "記録する", "postback": "/visit"}))
    assert menu is not None and menu.data == "/visit"
    pressed = parse(_event("postback", me, data="f:1:2:x"))
    assert pressed is not None and pressed.data == "f:1:2:x"
    sticker = parse(_event("message", me, content={"type": "sticker", "packageId": "1", "stickerId": "2"}))
    assert sticker is not None and sticker.other
    began = parse(_event("begin", me))
    assert began is not None and began.begin
    assert parse(_event("message", {**me, "channelId": "room"}, content={"type": "text", "text": "x"})) is None
    assert parse(_event("joined", {"channelId": "room"})) is None
