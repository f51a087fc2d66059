"""The same scenarios on both front ends, from one suite: a plain outing, a consultation with a referral, a follow-up
through the note form, a repeat visit, a report and the weekly digest, on Telegram and on LINE WORKS (one bot with
both, tests/lineworks/harness.py). A person here presses labels and types as on either messenger; on LINE WORKS a
label on a later page of a long list costs a 「次へ」, counted as a press."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pytest

from core.i18n import t
from core.models import NewPlace, Role
from simulator.botapi import SimUser
from tests.lineworks.harness import LineWorksHarness, Worker, lineworks_running
from tests.test_note_form import submit

FORM = t("flow.form.button")
NEXT = t("lineworks.next")
LABEL = "Cさん FRONTLABEL-5120"
REASON = "FRONTREASON-7781 退院後の見守り"


class Person(Protocol):
    presses: int

    async def command(self, name: str) -> None: ...
    async def press(self, label: str) -> None: ...
    async def form(self, text: str) -> None: ...
    def text(self) -> str: ...
    def everything(self) -> str: ...
    def pictures(self) -> list[bytes]: ...


class OnTelegram:
    def __init__(self, user: SimUser) -> None:
        self.user = user
        self.presses = 0

    async def command(self, name: str) -> None:
        await self.user.send(f"/{name}")

    async def press(self, label: str) -> None:
        self.presses += 1
        await self.user.press(label)

    async def form(self, text: str) -> None:
        status, _ = await submit(self.user.open_web_app(FORM), text)
        assert status == 200

    def text(self) -> str:
        last = self.user.last
        return last.text if last is not None else ""

    def everything(self) -> str:
        return "\n".join(m.text for m in self.user.messages)

    def pictures(self) -> list[bytes]:
        return [m.photo for m in self.user.messages if m.photo is not None]


class OnLineWorks:
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    @property
    def presses(self) -> int:
        return self.worker.presses

    @presses.setter
    def presses(self, value: int) -> None:
        self.worker.presses = value

    async def command(self, name: str) -> None:
        await self.worker.send(f"/{name}")

    async def press(self, label: str) -> None:
        """As a person does: the label on the latest buttons, or the next page of them until it shows."""
        for _ in range(4):
            labels = self.worker.labels() if self.worker.contents else []
            shown = next((shown for shown in labels if _same(shown, label)), None)
            if shown is not None or NEXT not in labels:
                await self.worker.press(shown or label)
                return
            await self.worker.press(NEXT)
        raise AssertionError(f"{label!r} is on no page")

    async def form(self, text: str) -> None:
        items = self.worker.contents[-1]["quickReply"]["items"]
        uri = next(i["action"]["uri"] for i in items if i["action"]["type"] == "uri")
        status, _ = await submit(uri, text)
        assert status == 200

    def text(self) -> str:
        return self.worker.last

    def everything(self) -> str:
        return json.dumps(self.worker.contents, ensure_ascii=False)

    def pictures(self) -> list[bytes]:
        files = self.worker.h.sim.files
        return [files[c["fileId"]][1] for c in self.worker.contents if c.get("type") == "image"]


def _same(shown: str, label: str) -> bool:
    """A LINE WORKS button for `label`: the label itself, or shortened to fit ("①🔁 前回と同じ：…")."""
    if shown == label:
        return True
    start = shown[1:].removesuffix("\u2026") if shown.endswith("\u2026") else None
    return bool(start) and label.startswith(start)  # type: ignore[arg-type]


FRONTS = ["telegram", "lineworks"]


@pytest.fixture
async def lw(tmp_path: Path) -> AsyncIterator[LineWorksHarness]:
    async with lineworks_running(tmp_path) as harness:
        yield harness


async def person(lw: LineWorksHarness, front: str, number: int, role: Role = Role.STAFF) -> Person:
    if front == "telegram":
        return OnTelegram(await lw.h.register(3000 + number, role))
    return OnLineWorks(await lw.register(f"person{number}@council.example", role))


@pytest.mark.parametrize("front", FRONTS)
async def test_a_plain_outing(lw: LineWorksHarness, front: str) -> None:
    staff = await person(lw, front, 1)
    await staff.command("visit")
    for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった", "💾 保存"):
        await staff.press(label)
    assert staff.presses == 5
    rows = await lw.h.store.db.fetchall("SELECT area, activity, destination FROM outings")
    assert [tuple(r) for r in rows] == [("kyonan", "outing", "salon-elderly")]


@pytest.mark.parametrize("front", FRONTS)
async def test_a_consultation_with_one_referral(lw: LineWorksHarness, front: str) -> None:
    staff = await person(lw, front, 2)
    await staff.command("visit")
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
        await staff.press(label)
    assert staff.presses <= (10 if front == "telegram" else 11)  # one more where a step pages
    agencies = await lw.h.store.db.fetchall("SELECT agency FROM consultation_agencies")
    assert [a[0] for a in agencies] == ["elderly"]


@pytest.mark.parametrize("front", FRONTS)
async def test_a_follow_up_through_the_note_form(lw: LineWorksHarness, front: str) -> None:
    staff = await person(lw, front, 3)
    await staff.command("visit")
    for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "あった", "ニーズを抱えている個人の相談"):
        await staff.press(label)
    for label in ("福祉サービス、相談機関の紹介", "なし（つないでいない）", "🚩 要フォローあり"):
        await staff.press(label)
    await staff.form(LABEL)
    assert staff.text().startswith(t("flow.form.received"))
    await staff.form(REASON)
    assert staff.text().startswith(t("flow.form.received"))
    for label in ("1週間", "✅ 相談入力を終える", "💾 保存"):
        await staff.press(label)
    assert await lw.h.count("followups") == 1 and await lw.h.count("drafts") == 0
    stored = await lw.h.store.db.fetchone("SELECT * FROM followups")
    assert stored is not None and "FRONTREASON" not in repr(tuple(stored))  # sealed at rest
    assert "FRONTREASON" not in staff.everything() and "退院後" not in staff.everything()


@pytest.mark.parametrize("front", FRONTS)
async def test_a_repeat_visit(lw: LineWorksHarness, front: str) -> None:
    async with lw.h.store.db.transaction() as tx:
        await lw.h.store.places.add(
            tx, NewPlace("境南ふれあいサロン", "salon-elderly", "kyonan"), datetime(2026, 11, 1, tzinfo=UTC)
        )
    staff = await person(lw, front, 4)
    await staff.command("visit")
    for label in ("活動先への出向き・参加", "🔎 ほかの活動先", "境南ふれあいサロン（高齢者サロン）", "10人"):
        await staff.press(label)
    for label in ("なかった", "💾 保存"):
        await staff.press(label)
    staff.presses = 0
    await staff.command("visit")
    for label in ("🔁 前回と同じ：高齢者サロン・境南ふれあいサロン", "なかった", "💾 保存"):
        await staff.press(label)
    assert staff.presses == 3
    rows = await lw.h.store.db.fetchall("SELECT destination FROM outings")
    assert [r[0] for r in rows] == ["salon-elderly", "salon-elderly"]


@pytest.mark.parametrize("front", FRONTS)
async def test_a_report(lw: LineWorksHarness, front: str) -> None:
    staff = await person(lw, front, 5)
    await staff.command("visit")
    for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった", "💾 保存"):
        await staff.press(label)
    supervisor = await person(lw, front, 6, Role.SUPERVISOR)
    await supervisor.command("report")
    assert "西部圏域" in supervisor.text()
    await supervisor.press("今週")
    assert "・活動記録 1件" in supervisor.everything()
    assert supervisor.pictures() and all(png.startswith(b"\x89PNG") for png in supervisor.pictures())  # the chart


@pytest.mark.parametrize("front", FRONTS)
async def test_the_weekly_digest(lw: LineWorksHarness, front: str) -> None:
    staff = await person(lw, front, 7)
    await staff.command("visit")
    for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった", "💾 保存"):
        await staff.press(label)
    supervisor = await person(lw, front, 8, Role.SUPERVISOR)
    await lw.h.store.meta.put("installed_at", "2026-11-01T00:00:00.000000Z")
    lw.h.clock.set(datetime(2026, 11, 29, 23, 31, tzinfo=UTC))  # the next Monday, 08:31 in Tokyo
    await lw.h.tick()
    assert "週間ダイジェスト｜11/23(月)〜11/29(日)｜西部圏域" in supervisor.everything()
    await lw.h.tick()
    assert supervisor.everything().count("週間ダイジェスト") == 1
