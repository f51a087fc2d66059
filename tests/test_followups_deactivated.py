"""Issue 13, item 3: a deactivated owner's follow-ups are marked 【停止中】, and the supervisors of the person's
zone are told once (counts only) so they reassign them."""

from __future__ import annotations

from pathlib import Path

from core.models import Role
from tests.harness import ADMIN_ID, Harness, running
from tests.test_e2e_followups import OTHER_ZONE_SUPERVISOR, STAFF, SUPERVISOR, flag_in_an_outing

LABELS = ("境南町 80代女性 A", "境南町 70代男性 B")


async def deactivate(h: Harness, telegram_id: int) -> None:
    admin = h.api.user(ADMIN_ID)
    await admin.send("/staff")
    await admin.press(f"停止：職員{telegram_id}")
    await admin.press("停止する")
    assert admin.last is not None and f"職員{telegram_id}さんの利用を停止しました。" in admin.last.text


async def test_supervisors_are_told_once_and_the_owner_is_marked(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        await h.register(STAFF)
        colleague = await h.register(STAFF + 50)
        supervisor = await h.register(SUPERVISOR, Role.SUPERVISOR)
        other_supervisor = await h.register(OTHER_ZONE_SUPERVISOR, Role.SUPERVISOR, zone="central", area="chuo")
        for label in LABELS:
            await flag_in_an_outing(h, label)
        before = {p.id: len(p.messages) for p in (colleague, supervisor, other_supervisor)}

        await deactivate(h, STAFF)
        for _ in range(2):
            await h.tick()
            await h.restart()
        await h.tick()

        told = supervisor.messages[before[SUPERVISOR] :]
        assert len(told) == 1
        text = told[0].text
        assert "職員4001" in text and "2件" in text
        assert not any(label in text for label in LABELS) and "理由" not in text
        assert len(colleague.messages) == before[STAFF + 50]
        assert len(other_supervisor.messages) == before[OTHER_ZONE_SUPERVISOR]
        assert [status for _, status, _ in await h.store.outbox.history("handover")] == ["sent"]

        # the button lists that person's follow-ups, marked; one is reassigned from its card
        await supervisor.press("担当変更へ")
        listing = supervisor.last
        assert listing is not None and "職員4001【停止中】" in listing.text and "対応中 2件" in listing.text
        await supervisor.press(LABELS[0])
        assert "担当：職員4001【停止中】" in supervisor.last.text  # type: ignore[union-attr]
        await supervisor.press("👤 担当変更")
        assert await supervisor.press("職員4051") == "担当を職員4051さんに変更しました。"
        await supervisor.send("/followups")
        overview = supervisor.last.text  # type: ignore[union-attr]
        assert "担当 職員4001【停止中】" in overview and "担当 職員4051" in overview
        assert "職員4051【停止中】" not in overview


async def test_no_message_when_the_person_has_no_open_follow_up(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        await h.register(STAFF)
        supervisor = await h.register(SUPERVISOR, Role.SUPERVISOR)
        before = len(supervisor.messages)
        await deactivate(h, STAFF)
        await h.tick()
        await h.restart()
        await h.tick()
        assert len(supervisor.messages) == before
        assert await h.store.outbox.history("handover") == []
