"""Records for report tests, written through the same repository the bot saves with."""

from __future__ import annotations

from datetime import UTC, date, datetime

from core.models import NewConsultation, NewFollowUp, NewOuting, Submission
from storage.sqlite.store import SqlStore

STAMP = datetime(2026, 1, 1, tzinfo=UTC)


async def outing(
    store: SqlStore,
    staff_id: int,
    day: date,
    area: str = "kyonan",
    activity: str = "outing",
    destination: str = "salon-elderly",
    consultations: tuple[NewConsultation, ...] = (),
) -> None:
    async with store.db.transaction() as tx:
        await store.records.save_submission(
            tx, Submission(staff_id, day, area, NewOuting(activity, destination, None), consultations), "visit", STAMP
        )


def consultation(
    consulter: str = "individual",
    category: str | None = "services",
    agencies: tuple[str, ...] = (),
    channel: str = "outing",
    topic: str | None = None,
    followup: NewFollowUp | None = None,
    from_agency: str | None = None,
) -> NewConsultation:
    return NewConsultation(channel, consulter, category, topic, agencies, channel == "outing", followup, from_agency)


async def consult_only(store: SqlStore, staff_id: int, day: date, area: str, *items: NewConsultation) -> None:
    async with store.db.transaction() as tx:
        await store.records.save_submission(tx, Submission(staff_id, day, area, None, items), "consult", STAMP)
