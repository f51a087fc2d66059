"""The outing flow as a use case, without a bot: drafts, presses, typed answers, saving, undo and redelivery."""

from __future__ import annotations

from datetime import timedelta

from core.buttons import Button, CancelDraft, FlowPress, ResumeDraft, UndoSubmission
from core.i18n import t
from core.models import Staff
from services.flow import FlowService
from services.screens import Reply, View
from storage.types import IdempotencyKey
from tests.services.conftest import World

PLAIN = ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった")
EXPIRED = t("common.expired")


def screen(reply: Reply) -> View:
    """The view a reply shows last (the question now on screen)."""
    views = [*([reply.edit] if reply.edit else []), *reply.send]
    assert views, reply
    return views[-1]


def button(view: View, label: str) -> Button:
    found = [c.button for row in view.rows for c in row if c.label == label and isinstance(c.button, Button)]
    assert found, f"{label!r} not in {[c.label for row in view.rows for c in row]}"
    return found[0]


async def delivered(world: World, reply: Reply) -> Reply:
    """As a front end does: report the message that now shows the draft's question."""
    if reply.track is not None:
        await world.flows.shown(reply.track, 100 + world.updates)
    return reply


async def press(world: World, staff: Staff, view: View, label: str, key: IdempotencyKey | None = None) -> Reply:
    pressed = button(view, label)
    assert isinstance(pressed, FlowPress)
    return await delivered(world, await world.flows.press(staff, pressed, key or world.key()))


async def begin(world: World, staff: Staff, kind: str = "visit") -> Reply:
    return await delivered(world, await world.flows.begin(staff, kind, 2001, world.key()))  # type: ignore[arg-type]


async def walk(world: World, staff: Staff, reply: Reply, *labels: str) -> Reply:
    for label in labels:
        reply = await press(world, staff, screen(reply), label)
        assert reply.toast is None, (label, reply.toast)
    return reply


async def test_a_visit_starts_a_draft_and_shows_the_first_question_tracked(world: World) -> None:
    staff = await world.person(2001)
    reply = await begin(world, staff)
    draft = await world.store.drafts.for_staff(staff.id)
    assert draft is not None and reply.track == draft.id
    assert "何をしましたか" in screen(reply).text
    first = button(screen(reply), "活動先への出向き・参加")
    assert first == FlowPress(draft.id, draft.version, "p:outing")


async def test_a_plain_outing_is_saved_in_five_presses_and_can_be_undone(world: World) -> None:
    staff = await world.person(2001)
    reply = await walk(world, staff, await begin(world, staff), *PLAIN)
    saved = await press(world, staff, screen(reply), "💾 保存")
    assert saved.toast == t("flow.saved")
    assert await world.store.drafts.for_staff(staff.id) is None
    undo = button(screen(saved), "↩ 取り消す（10分以内）")
    assert isinstance(undo, UndoSubmission)
    undone = await world.flows.undo(staff, undo, None, world.key())
    assert undone.toast == t("flow.undo.done")
    assert (await world.store.records.submission(undo.submission)) is None


async def test_a_press_delivered_twice_changes_nothing_the_second_time(world: World) -> None:
    staff = await world.person(2001)
    reply = await begin(world, staff)
    key = world.key()
    first = await press(world, staff, screen(reply), "活動先への出向き・参加", key)
    assert "支援先" in screen(first).text
    again = await press(world, staff, screen(reply), "活動先への出向き・参加", key)
    assert again.edit is None and again.send == [] and again.toast == EXPIRED
    draft = await world.store.drafts.for_staff(staff.id)
    assert draft is not None and draft.version == 2


async def test_a_save_delivered_again_after_it_committed_saves_nothing_twice(world: World) -> None:
    staff = await world.person(2001)
    reply = await walk(world, staff, await begin(world, staff), *PLAIN)
    key = world.key()
    await press(world, staff, screen(reply), "💾 保存", key)
    again = await press(world, staff, screen(reply), "💾 保存", key)
    assert again.toast == t("flow.already_saved")  # the draft is gone: it says so and offers the undo again
    row = await world.store.db.fetchone("SELECT count(*) FROM outings")
    assert row is not None and row[0] == 1


async def test_a_stale_button_of_another_person_is_expired(world: World) -> None:
    owner = await world.person(2001)
    other = await world.person(2002)
    reply = await begin(world, owner)
    pressed = button(screen(reply), "活動先への出向き・参加")
    assert isinstance(pressed, FlowPress)
    assert (await world.flows.press(other, pressed, world.key())).toast == EXPIRED


async def test_a_typed_reason_is_kept_sealed_and_removed_from_the_chat(world: World) -> None:
    staff = await world.person(2001)
    reply = await begin(world, staff, "consult")
    reply = await walk(world, staff, reply, "電話", "ニーズを抱えている個人の相談", "近況報告など")
    reply = await walk(world, staff, reply, "なし（つないでいない）", "🚩 要フォローあり")
    reply = await walk(world, staff, reply, next(c.label for row in screen(reply).rows for c in row))
    assert screen(reply).personal_text
    typed = await world.flows.type_text(staff, "毎朝の見送りが必要", world.key())
    assert typed.forget_typed and "毎朝の見送り" not in screen(typed).text
    stored = await world.store.db.fetchone("SELECT state FROM drafts")
    assert stored is not None and "毎朝".encode() not in stored[0]


async def test_after_a_restart_typed_text_first_offers_to_resume(world: World, tmp_path: object) -> None:
    staff = await world.person(2001)
    await begin(world, staff)
    restarted = FlowService(world.deps, "boot-2")
    reply = await restarted.type_text(staff, "12", world.key())
    assert "続きから" in str([c.label for row in screen(reply).rows for c in row])
    go = button(screen(reply), t("flow.resume.go"))
    assert isinstance(go, ResumeDraft)
    resumed = await restarted.resume(staff, go, 2001, world.key())
    assert "何をしましたか" in screen(resumed).text


async def test_cancel_asks_once_and_drops_the_draft(world: World) -> None:
    staff = await world.person(2001)
    await begin(world, staff)
    asked = await world.flows.cancel_command(staff)
    yes = button(screen(asked), t("flow.cancel.yes"))
    assert isinstance(yes, CancelDraft)
    done = await world.flows.cancel(staff, yes, None, world.key())
    assert screen(done).text == t("flow.cancel.done")
    assert await world.store.drafts.for_staff(staff.id) is None


async def test_undo_is_refused_after_ten_minutes(world: World) -> None:
    staff = await world.person(2001)
    reply = await walk(world, staff, await begin(world, staff), *PLAIN)
    saved = await press(world, staff, screen(reply), "💾 保存")
    undo = button(screen(saved), "↩ 取り消す（10分以内）")
    assert isinstance(undo, UndoSubmission)
    world.clock.advance(timedelta(minutes=11))
    late = await world.flows.undo(staff, undo, 7, world.key())
    assert late.toast == EXPIRED and late.retire == 7


async def test_undo_is_audited_and_frees_no_id_for_the_next_record(world: World) -> None:
    staff = await world.person(2001)
    reply = await walk(world, staff, await begin(world, staff), *PLAIN)
    saved = await press(world, staff, screen(reply), "💾 保存")
    undo = button(screen(saved), "↩ 取り消す（10分以内）")
    assert isinstance(undo, UndoSubmission)
    await world.flows.undo(staff, undo, None, world.key())
    reply = await walk(world, staff, await begin(world, staff), *PLAIN)
    again = button(screen(await press(world, staff, screen(reply), "💾 保存")), "↩ 取り消す（10分以内）")
    assert isinstance(again, UndoSubmission) and again.submission > undo.submission  # never the undone id again
    row = await world.store.db.fetchone("SELECT subject FROM audit WHERE action = 'submission.undo'")
    assert row is not None and row[0] == f"submission:{undo.submission}"
