"""The services' screens as LINE WORKS messages: the text split within 2,000 characters, choices as quick-reply
items within 13 (paged with 次へ / 前へ), labels within 20 with the full wording in the text, the note form as a uri
action; and, by random walks through the flows, follow-ups, reports and places, every screen they produce fits."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.buttons import (
    Button,
    CancelDraft,
    FlowPress,
    FollowUpCard,
    FollowUpPage,
    PlaceCard,
    ReportPeriod,
    ReportTable,
    ResumeDraft,
    UndoSubmission,
    decode,
    encode,
)
from core.clock import ManualClock
from core.crypto import Sealer
from core.i18n import t
from core.models import NewFollowUp, NewOuting, NewPlace, Role, Staff, Submission
from core.taxonomy import Taxonomy
from core.webapp import FormLinks
from handlers.lineworks.content import (
    MAX_LABEL,
    MAX_POSTBACK_DATA,
    MAX_QUICK_REPLY_ITEMS,
    MAX_TEXT,
    validate_content,
)
from handlers.lineworks.render import (
    PagePress,
    choices_of,
    page_count,
    page_of,
    page_slices,
    render,
    screen_id,
    split_text,
    units,
)
from services.deps import Deps, Forms
from services.flow import FlowService
from services.followups import FollowUpService
from services.places import PlaceService
from services.reporting import ReportService
from services.screens import Choice, FormLink, Press, Reply, View, rows
from services.staff import StaffService
from simulator.lineworks import content_problem
from storage.sqlite.store import SqlStore, Store
from tests.conftest import TEST_KEY
from tests.seed import consultation
from tests.services.conftest import NOW, World

FORM_BASE = "https://bot.example.org/fieldbot/"


def press(label: str, action: str = "p:x") -> Choice:
    return Choice(label, FlowPress(7, 3, action))


def items(content: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [item["action"] for item in content.get("quickReply", {}).get("items", [])]


def every_page(view: View) -> list[list[dict[str, Any]]]:
    return [render(view, page=n) for n in range(page_count(view))]


def check(contents: Sequence[Mapping[str, Any]]) -> None:
    """What LINE WORKS takes: content.py's rules, the simulator's, and our stricter count (UTF-16 units)."""
    assert contents, "a screen rendered as no message"
    for n, content in enumerate(contents):
        validate_content(content)
        assert content_problem(content) is None, content
        assert content["type"] == "text" and 0 < units(content["text"]) <= MAX_TEXT
        actions = items(content)
        assert not actions or n == len(contents) - 1, "quick replies only on the last message"
        assert len(actions) <= MAX_QUICK_REPLY_ITEMS
        for action in actions:
            assert 0 < units(action["label"]) <= MAX_LABEL, action
            if action["type"] == "postback":
                assert len(action["data"]) <= MAX_POSTBACK_DATA and action["displayText"]
                assert decode(action["data"]) is not None or PagePress.decode(action["data"]) is not None
            else:
                assert action["type"] == "uri" and action["uri"].startswith(FORM_BASE.rstrip("/"))


# ---- unit tests --------------------------------------------------------------------------------------------------


def test_a_short_screen_is_one_text_message_with_one_postback_item_per_choice() -> None:
    view = View("何をしましたか？", rows([press("💾 保存", "s"), press("🗑 破棄", "d")]))
    contents = render(view)
    assert len(contents) == 1 and contents[0]["text"] == "何をしましたか？"
    assert items(contents[0]) == [
        {"type": "postback", "label": "💾 保存", "data": "f:7:3:s", "displayText": "💾 保存"},
        {"type": "postback", "label": "🗑 破棄", "data": "f:7:3:d", "displayText": "🗑 破棄"},
    ]
    check(contents)


def test_a_long_label_is_numbered_and_shortened_and_its_full_wording_is_in_the_text() -> None:
    long = "境南ふれあいサロン・いきいき体操の会（高齢者サロン）"
    view = View(
        "どこへ？", rows([press("短い"), press(long, "p:1"), press("🔁 前回と同じ：境南ふれあいサロンへ出向き", "p:2")])
    )
    [content] = render(view)
    labels = [a["label"] for a in items(content)]
    assert labels[0] == "短い"
    assert labels[1] == "①境南ふれあいサロン・いきいき体操の会…" and units(labels[1]) == MAX_LABEL
    assert labels[2].startswith("②🔁 前回と同じ") and labels[2].endswith("…") and units(labels[2]) <= MAX_LABEL
    assert [a["displayText"] for a in items(content)][1:] == [long, "🔁 前回と同じ：境南ふれあいサロンへ出向き"]
    assert content["text"].splitlines()[-3:] == [
        t("lineworks.full_labels"),
        f"① {long}",
        "② 🔁 前回と同じ：境南ふれあいサロンへ出向き",
    ]
    check([content])


def test_an_emoji_counts_as_two_units_so_twenty_code_points_with_one_are_shortened() -> None:
    label = "🚩" + "あ" * 19  # 20 code points, 21 UTF-16 units
    [content] = render(View("?", rows([press(label)])))
    assert items(content)[0]["label"] != label and units(items(content)[0]["label"]) <= MAX_LABEL


def test_thirteen_choices_fit_one_quick_reply_and_fourteen_are_paged() -> None:
    assert page_slices(13) == [(0, 13)]
    assert page_slices(14) == [(0, 12), (12, 14)]
    assert page_slices(24) == [(0, 12), (12, 24)]
    assert page_slices(25) == [(0, 12), (12, 23), (23, 25)]
    assert page_slices(0) == [(0, 0)]
    one = View("?", rows([press(f"選択{i}", f"p:{i}") for i in range(13)]))
    assert page_count(one) == 1 and len(items(render(one)[0])) == 13


@pytest.mark.parametrize("count", [14, 25, 40])
def test_every_choice_is_on_exactly_one_page_with_next_and_previous_around_it(count: int) -> None:
    view = View("どれ？", rows([press(f"選択{i}", f"p:{i}") for i in range(count)]))
    pages = every_page(view)
    seen: list[str] = []
    for n, contents in enumerate(pages):
        check(contents)
        actions = items(contents[-1])
        turns = [PagePress.decode(a["data"]) for a in actions]
        if n > 0:
            assert actions[0]["label"] == t("lineworks.previous") and turns[0] == PagePress(n - 1, screen_id(view))
        if n < len(pages) - 1:
            assert actions[-1]["label"] == t("lineworks.next") and turns[-1] == PagePress(n + 1, screen_id(view))
        seen += [a["data"] for a, turn in zip(actions, turns, strict=True) if turn is None]
    assert seen == [f"f:7:3:p:{i}" for i in range(count)]
    assert pages[0][0]["text"] == "どれ？"
    assert pages[1][0]["text"].startswith(t("lineworks.page", page=2, pages=len(pages)))


def test_a_toggle_pressed_on_a_later_page_finds_that_page_on_the_next_version() -> None:
    newer = View("どれ？", rows([Choice(f"選択{i}", FlowPress(7, 4, f"t:{i}")) for i in range(18)]))
    assert page_of(newer, FlowPress(7, 3, "t:15")) == 1
    assert page_of(newer, FlowPress(7, 3, "t:2")) == 0
    assert page_of(newer, FlowPress(8, 3, "t:15")) == 0  # another draft's
    assert page_of(newer, UndoSubmission(5)) == 0


def test_a_page_out_of_range_shows_the_nearest_page() -> None:
    view = View("?", rows([press(f"選択{i}", f"p:{i}") for i in range(20)]))
    assert render(view, page=99) == render(view, page=1)
    assert render(view, page=-1) == render(view, page=0)


def test_page_data_round_trips_and_neither_codec_takes_the_others_data() -> None:
    turn = PagePress(3, "0123456789abcdef")
    assert PagePress.decode(turn.encode()) == turn
    assert decode(turn.encode()) is None
    assert PagePress.decode(encode(FlowPress(1, 2, "p:x"))) is None
    for forged in ["~pg:1:0123", "~pg:01:0123456789abcdef", "~pg:-1:0123456789abcdef", "~pg:1:0123456789ABCDEF", ""]:
        assert PagePress.decode(forged) is None, forged


def test_the_screen_id_follows_the_choices_and_their_draft_version_not_the_text_or_the_form_link() -> None:
    form = Choice("🔒 フォームで入力", FormLink(f"{FORM_BASE}note/1/aaaa"))
    view = View("質問", rows([press("はい", "p:yes"), form]))
    again = View(
        "メモを保存しました\n\n質問", rows([press("はい", "p:yes"), Choice(form.label, FormLink(f"{FORM_BASE}x"))])
    )
    assert screen_id(view) == screen_id(again)
    newer = View("質問", rows([Choice("はい", FlowPress(7, 4, "p:yes")), form]))
    assert screen_id(view) != screen_id(newer)


def test_a_long_text_is_split_at_line_ends_with_the_quick_reply_on_the_last_message() -> None:
    lines = [f"{n:04d} " + "相談の記録" * 30 for n in range(30)]  # 155 characters a line, 4,679 in all
    contents = render(View("\n".join(lines), rows([press("戻る", "b")])))
    assert len(contents) == 3
    check(contents)
    assert "\n".join(c["text"] for c in contents) == "\n".join(lines)
    assert all(not items(c) for c in contents[:-1]) and len(items(contents[-1])) == 1


def test_a_line_longer_than_a_message_is_cut_and_nothing_is_lost() -> None:
    text = "あ" * 4500 + "\n\n末尾"
    pieces = split_text(text)
    assert [units(p) for p in pieces] == [2000, 2000, 500 + 4]
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
    assert split_text("💾" * 1500) == ["💾" * 1000, "💾" * 500]
    assert split_text("\n\n") == []


def test_the_note_form_is_a_uri_action_in_the_quick_reply() -> None:
    url = f"{FORM_BASE}note/1/" + "A" * 120
    view = View(
        "理由を入力してください。", rows([press("スキップ", "x")], [Choice("🔒 フォームで入力", FormLink(url))])
    )
    [content] = render(view)
    assert items(content)[1] == {"type": "uri", "label": "🔒 フォームで入力", "uri": url}
    check([content])
    with pytest.raises(ValueError, match="uri action"):
        render(View("?", rows([Choice("🔒", FormLink("javascript:alert(1)"))])))


def test_an_empty_screen_sends_nothing_and_choices_without_text_get_a_prompt() -> None:
    assert render(View("")) == []
    [content] = render(View("", rows([press("はい")])))
    assert content["text"] == t("lineworks.choose")


# ---- the property: every screen the services produce fits ----------------------------------------------------------

TYPED = [
    "12",
    "３人",
    "0",
    "11/20",
    "2026-11-01",
    "12/5",
    "境南町",
    "サロン",
    "境南ふれあいサロン",
    "見守りA",
    "毎朝の見送りが必要で、近所の方と相談して見守りの体制を作りたい。",
    "メモ：次回は民生委員と同行",
    "たくさん",
    "あ" * 300,
]
LONG_PLACE = "境南ふれあいサロン・いきいき体操とおしゃべりの会（毎月第二・第四水曜日）"


@dataclass
class Walk:
    world: World
    places: PlaceService
    staff: Staff
    shown: list[View] = field(default_factory=list)
    message: int = 1000

    async def show(self, reply: Reply) -> View | None:
        """As the adapter will: every view rendered (each page), the flow told which message shows its question."""
        views = [*([reply.edit] if reply.edit else []), *reply.send]
        for view in views:
            for contents in every_page(view):
                if contents or view.rows:
                    check(contents)
        self.shown += views
        if reply.track is not None:
            self.message += 1
            await self.world.flows.shown(reply.track, self.message)
        with_choices = [v for v in views if v.rows]
        return with_choices[-1] if with_choices else (views[-1] if views else None)

    async def press(self, button: Button) -> Reply:
        w, key = self.world, self.world.key()
        if isinstance(button, FlowPress):
            return await w.flows.press(self.staff, button, key)
        if isinstance(button, ResumeDraft):
            return await w.flows.resume(self.staff, button, 3001, key)
        if isinstance(button, CancelDraft):
            return await w.flows.cancel(self.staff, button, None, key)
        if isinstance(button, UndoSubmission):
            return await w.flows.undo(self.staff, button, None, key)
        if isinstance(button, ReportTable):
            return await w.reports.table(self.staff, button)
        if isinstance(button, PlaceCard):
            return await self.places.card(self.staff, button)
        return await w.followups.press(self.staff, button, Press(key))

    async def type(self, text: str) -> Reply:
        """As Telegram's text handler: a follow-up's awaited note or date first, else the flow's answer."""
        awaited = await self.world.followups.typed(self.staff, text, self.world.key())
        return awaited or await self.world.flows.type_text(self.staff, text, self.world.key())


async def seeded(store: SqlStore, taxonomy: Taxonomy, role: Role) -> Walk:
    clock = ManualClock(NOW)
    links = FormLinks(Sealer.from_text(TEST_KEY), FORM_BASE, 1)
    deps = Deps(store, taxonomy, clock, ZoneInfo("Asia/Tokyo"), forms=Forms(links))
    flows = FlowService(deps, "boot-1")
    world = World(store, deps, clock, flows, FollowUpService(deps), ReportService(deps), StaffService(deps))
    staff = await world.person(3001, role)
    async with store.unit(None, NOW) as tx:
        place = await store.places.add(tx, NewPlace(LONG_PLACE, "salon-elderly", "kyonan"), NOW)
        for n in range(14):
            await store.places.add(tx, NewPlace(f"サロン{n:02d}", "salon-elderly", "kyonan"), NOW)
        followup = NewFollowUp(
            "見守りの必要な方（境南町二丁目・集合住宅にお住まいの高齢のご夫婦）", date(2026, 12, 1), "理由"
        )
        outing = NewOuting("outing", "salon-elderly", 12, place.id)
        day = date(2026, 11, 20)
        await store.records.save_submission(
            tx, Submission(staff.id, day, "kyonan", outing, (consultation(followup=followup),)), "visit", NOW
        )
    return Walk(world, PlaceService(deps), staff)


STARTS = ("visit", "consult", "followups", "cancel")
SAVE = t("flow.button.save")  # pressed whenever offered: the saved card and its undo are screens too


async def random_walk(folder: str, taxonomy: Taxonomy, data: st.DataObject) -> None:
    store = await Store.open(Path(folder) / "walk.sqlite3", Sealer.from_text(TEST_KEY))
    try:
        walk = await seeded(store, taxonomy, data.draw(st.sampled_from([Role.STAFF, Role.SUPERVISOR])))
        screen = await walk.show(await start(walk, data.draw(st.sampled_from(STARTS[:2]))))
        for _ in range(data.draw(st.integers(5, 60))):
            choices = choices_of(screen) if screen else []
            buttons = [c.button for c in choices if isinstance(c.button, Button)]
            move = data.draw(st.sampled_from(["press"] * 8 + ["type", "start"] if buttons else ["type", "start"]))
            if move == "press":
                saves = [c.button for c in choices if c.label == SAVE and isinstance(c.button, Button)]
                reply = await walk.press(data.draw(st.sampled_from(saves or buttons)))
            elif move == "type":
                reply = await walk.type(data.draw(st.sampled_from(TYPED)))
            else:
                reply = await start(walk, data.draw(st.sampled_from(STARTS)))
            screen = await walk.show(reply) or screen
    finally:
        await store.close()


async def start(walk: Walk, what: str) -> Reply:
    w = walk.world
    if what in ("visit", "consult"):
        return await w.flows.begin(walk.staff, what, 3001, w.key())  # type: ignore[arg-type]
    if what == "followups":
        return await w.followups.list_command(walk.staff)
    return await w.flows.cancel_command(walk.staff)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_screen_the_flows_and_follow_ups_produce_fits_line_works(taxonomy: Taxonomy, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(random_walk(folder, taxonomy, data))


async def menus_and_reports(folder: str, taxonomy: Taxonomy) -> list[View]:
    store = await Store.open(Path(folder) / "menus.sqlite3", Sealer.from_text(TEST_KEY))
    try:
        walk = await seeded(store, taxonomy, Role.ADMIN)
        w, admin = walk.world, walk.staff
        for n in range(90):  # the 担当者別 table then runs over 2,000 characters
            await w.person(4000 + n, Role.STAFF)
        replies = [w.reports.menu(admin), w.reports.export_menu(), await w.reports.mine(admin)]
        replies.append(await w.reports.report(admin, ReportPeriod("fy")))
        [menu] = replies[0].send
        for choice in choices_of(menu):
            if isinstance(choice.button, ReportTable):
                replies.append(await w.reports.table(admin, choice.button))
        replies += [await w.staff.staff_command(), await w.staff.invite_command(), await walk.places.command(admin)]
        replies.append(await walk.press(PlaceCard(1)))
        replies.append(await w.followups.list_command(admin))
        replies.append(await w.followups.press(admin, FollowUpPage(0), Press(w.key())))
        replies.append(await w.followups.press(admin, FollowUpCard(1), Press(w.key())))
        for reply in replies:
            await walk.show(reply)
        return walk.shown
    finally:
        await store.close()


def test_the_report_menus_tables_and_lists_fit_line_works(taxonomy: Taxonomy) -> None:
    with tempfile.TemporaryDirectory() as folder:
        shown = asyncio.run(menus_and_reports(folder, taxonomy))
    assert len(shown) >= 10
    assert any(len(render(view)) > 1 for view in shown)  # a text over 2,000 characters was split
