"""The delivery ledger: redeliveries dropped, updates settled on commit or at the end, the inbox replayed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.ledger import DeliveryLedger
from core.clock import ManualClock
from storage.sqlite.store import Store

NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)


def ledger_of(store: Store, clock: ManualClock, bot_id: int = 1) -> DeliveryLedger:
    ledger = DeliveryLedger(store.inbox, bot_id, clock)
    store.settled = ledger.settled
    return ledger


async def test_an_update_settles_when_its_unit_of_work_commits(store: Store) -> None:
    ledger = ledger_of(store, ManualClock(NOW))
    await ledger.load()
    assert ledger.accept([10, 11]) == [10, 11]
    async with store.unit(ledger.key(10), NOW):
        assert ledger.unsettled([10, 11]) == [10, 11]  # not before the commit
    assert ledger.unsettled([10, 11]) == [11]
    await ledger.finish(10)  # its unit recorded it: nothing more to write
    await ledger.finish(11)  # wrote nothing: recorded now
    assert ledger.unsettled([10, 11]) == []
    assert await store.inbox.processed_ids(1) == {10, 11}


async def test_a_redelivered_update_is_dropped_and_reported_finished(store: Store) -> None:
    clock = ManualClock(NOW)
    first = ledger_of(store, clock)
    await first.load()
    first.accept([5])
    await first.finish(5)
    again = ledger_of(store, clock)  # a restart
    finished: list[int] = []
    again.listeners.append(finished.append)
    await again.load()
    assert again.accept([5, 6]) == [6]
    assert finished == [5]


async def test_what_was_kept_but_never_handled_is_replayed_after_a_restart(store: Store) -> None:
    clock = ManualClock(NOW)
    ledger = ledger_of(store, clock)
    await ledger.load()
    ledger.accept([7, 8])
    await ledger.keep([(7, '{"update_id": 7}'), (8, '{"update_id": 8}')])
    await ledger.finish(7)
    restarted = ledger_of(store, clock)
    assert await restarted.load() == [(8, '{"update_id": 8}')]
    assert restarted.unsettled([8]) == [8]


async def test_waiting_for_settlement_ends_when_nothing_is_in_flight(store: Store) -> None:
    ledger = ledger_of(store, ManualClock(NOW))
    await ledger.load()
    await ledger.wait_settled(10)  # nothing in flight: returns at once
    ledger.accept([1])
    await ledger.wait_settled(0.01)  # in flight: returns at the timeout
    assert ledger.unsettled([1]) == [1]


async def test_processed_ids_older_than_the_redelivery_window_are_forgotten(store: Store) -> None:
    clock = ManualClock(NOW)
    ledger = ledger_of(store, clock)
    await ledger.load()
    ledger.accept([1])
    await ledger.finish(1)
    clock.advance(timedelta(days=3))
    ledger.accept([2])
    await ledger.finish(2)
    assert await ledger.prune() == 1
    assert await store.inbox.processed_ids(1) == {2}
    assert ledger.accept([1]) == [1]  # forgotten: Telegram can no longer deliver it again anyway
