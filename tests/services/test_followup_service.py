"""Follow-ups as use cases, without a bot: scope, the audited details, notes and closing under the update's key."""

from __future__ import annotations

from datetime import date

from core.buttons import FollowUpCard, FollowUpClose, FollowUpDetails, FollowUpNote, FollowUpPage
from core.i18n import t
from core.models import NewConsultation, NewFollowUp, Role, Staff, Submission
from services.screens import Press
from tests.services.conftest import World


async def flagged(world: World, owner: Staff, label: str = "境南町 80代女性 A", area: str = "kyonan") -> int:
    item = NewConsultation(
        "phone", "individual", "services", None, (), False, NewFollowUp(label, date(2026, 12, 1), "理由")
    )
    async with world.store.unit(None, world.clock.now()) as tx:
        await world.store.records.save_submission(
            tx, Submission(owner.id, date(2026, 11, 23), area, None, (item,)), "consult", world.clock.now()
        )
    row = await world.store.db.fetchone("SELECT max(id) FROM followups")
    assert row is not None
    return int(row[0])


async def test_the_list_shows_what_the_scope_covers(world: World) -> None:
    owner = await world.person(2001)
    west = await world.person(3001, Role.SUPERVISOR, "west")
    central = await world.person(3002, Role.SUPERVISOR, "central")
    await flagged(world, owner)
    assert "境南町 80代女性 A" in (await world.followups.list_command(owner)).send[0].text
    assert "境南町 80代女性 A" in (await world.followups.list_command(west)).send[0].text
    assert "境南町 80代女性 A" not in (await world.followups.list_command(central)).send[0].text
    assert (await world.followups.page(central, FollowUpPage(0))).edit is not None


async def test_details_are_refused_outside_the_scope_and_audited_inside(world: World) -> None:
    owner = await world.person(2001)
    central = await world.person(3002, Role.SUPERVISOR, "central")
    followup = await flagged(world, owner)
    refused = await world.followups.details(central, FollowUpDetails(followup))
    assert refused.toast == t("common.expired") and refused.edit is None
    shown = await world.followups.details(owner, FollowUpDetails(followup))
    assert shown.edit is not None and "理由" in shown.edit.text
    row = await world.store.db.fetchone("SELECT count(*) FROM audit WHERE action = 'followup.view'")
    assert row is not None and row[0] == 1


async def test_a_note_typed_after_its_button_is_saved_once_and_removed_from_the_chat(world: World) -> None:
    owner = await world.person(2001)
    followup = await flagged(world, owner)
    await world.followups.press(owner, FollowUpNote(followup), Press(world.key(), 55))
    key = world.key()
    saved = await world.followups.typed(owner, "買い物の同行を月2回", key)
    assert saved is not None and saved.forget_typed
    assert "買い物" not in saved.send[0].text
    assert await world.followups.typed(owner, "買い物の同行を月2回", key) is None  # nothing awaited any more
    row = await world.store.db.fetchone("SELECT count(*) FROM followup_notes")
    assert row is not None and row[0] == 1


async def test_closing_twice_under_one_key_closes_once(world: World) -> None:
    owner = await world.person(2001)
    followup = await flagged(world, owner)
    key = world.key()
    first = await world.followups.press(owner, FollowUpClose(followup, "resolved"), Press(key))
    assert first.toast == t("followup.closed_toast")
    again = await world.followups.press(owner, FollowUpClose(followup, "resolved"), Press(key))
    assert again.toast == t("followup.already_closed")
    assert (await world.followups.card(owner, FollowUpCard(followup))).toast == t("followup.already_closed")


async def test_a_follow_up_with_many_long_notes_is_read_a_page_at_a_time_within_telegrams_limit(world: World) -> None:
    owner = await world.person(2001)
    followup = await flagged(world, owner)
    bodies = [f"{n:02d}" + "あ" * 495 for n in range(12)]
    for body in bodies:
        await world.store.followups.add_note(followup, owner.id, body, world.clock.now())
    seen: list[str] = []
    page = 0
    while True:
        reply = await world.followups.details(owner, FollowUpDetails(followup, page))
        assert reply.edit is not None and len(reply.edit.text) <= 4096
        seen += [body for body in bodies if body in reply.edit.text]
        turns = [c.button for row in reply.edit.rows for c in row if isinstance(c.button, FollowUpDetails)]
        following = [b for b in turns if b.page > page]
        if not following:
            break
        page = following[0].page
    assert seen == bodies and page >= 2
    row = await world.store.db.fetchone("SELECT count(*) FROM audit WHERE action = 'followup.view'")
    assert row is not None and row[0] == page + 1  # every page read is audited
