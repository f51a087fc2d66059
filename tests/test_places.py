"""The register of places (活動先): imported all or nothing from a council's spreadsheet, exported so that it imports
again, odd names kept safe, and the places a staff member went to lately."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from core.crypto import Sealer
from core.models import NewOuting, NewPlace, Place, PlaceStatus, Submission
from core.places import PlacesReader, places_csv
from core.taxonomy import Taxonomy
from storage.sqlite.store import Store
from tests.conftest import TEST_KEY
from tests.terminal import Cli, cli_fixture, make_database
from tests.test_import import export_year, exported_rows, run

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
HEADER = "name,kind,area,organiser,status,started_on,ended_on"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    yield from cli_fixture(tmp_path, monkeypatch)


def hundred_places(taxonomy: Taxonomy) -> str:
    pick = random.Random(12)
    kinds = [c.label for c in taxonomy.destination.active()]
    areas = [a.label for a in taxonomy.areas()]
    statuses = ["活動中", "準備中", "休止", "終了", "active"]
    lines = [HEADER]
    for i in range(100):
        started = f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}"
        ended = "2025-03-31" if i % 7 == 0 else ""
        organiser = "" if i % 3 else f"第{i}地域社協"
        name = f"ふれあいサロン{i:03d}"
        lines.append(
            f"{name},{pick.choice(kinds)},{pick.choice(areas)},{organiser},{statuses[i % 5]},{started},{ended}"
        )
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_a_hundred_places_import_and_export_round_trips(
    cli: Cli, tmp_path: Path, taxonomy: Taxonomy, encoding: str
) -> None:
    make_database(tmp_path / "council.sqlite3")
    source = tmp_path / "places.csv"
    source.write_bytes(hundred_places(taxonomy).encode(encoding))
    result = cli("places", "import", str(source))
    assert result.code == 0 and "新しい活動先100件、更新0件" in result.out, result
    exported = tmp_path / "exported.csv"
    assert cli("places", "export", str(exported)).code == 0
    rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 100 and rows[0].keys() == set(HEADER.split(","))
    # Importing the export again changes nothing but says it updated each place (same area and name).
    again = cli("places", "import", str(exported))
    assert again.code == 0 and "新しい活動先0件、更新100件" in again.out
    assert exported.read_bytes() == _export(cli, tmp_path)


def _export(cli: Cli, tmp_path: Path) -> bytes:
    second = tmp_path / "second.csv"
    assert cli("places", "export", str(second)).code == 0
    return second.read_bytes()


def test_a_file_with_one_wrong_row_imports_nothing_and_names_line_and_column(cli: Cli, tmp_path: Path) -> None:
    make_database(tmp_path / "council.sqlite3")
    source = tmp_path / "places.csv"
    source.write_text(
        f"{HEADER}\n境南ふれあいサロン,高齢者サロン,境南町,,活動中,2019-04-01,\n"
        "どこかのサロン,サロン,境南町,,活動中,,\n境南ふれあいサロン,高齢者サロン,境南町,,,,\n",
        encoding="utf-8",
    )
    result = cli("places", "import", str(source))
    assert result.code == 1
    assert "line 3, column kind" in result.out and "line 4, column name" in result.out
    exported = tmp_path / "out.csv"
    assert cli("places", "export", str(exported)).code == 0
    assert exported.read_text(encoding="utf-8-sig").strip() == HEADER  # nothing was taken


def test_odd_place_names_are_kept_as_typed_and_exported_as_text(taxonomy: Taxonomy, tmp_path: Path) -> None:
    names = ["🍵お茶のみサロン", '=HYPERLINK("http://evil.example","x")', "＋プラス会", "長" * 64]
    source = tmp_path / "odd.csv"
    rows = [HEADER, *(f'"{n.replace(chr(34), chr(34) * 2)}",居場所,境南町,,,,' for n in names)]
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    reader = PlacesReader(taxonomy)
    places = reader.read(source)
    assert not reader.errors and [p.name for p in places] == names
    too_long = tmp_path / "long.csv"
    too_long.write_text(f"{HEADER}\n{'長' * 65},居場所,境南町,,,,\n", encoding="utf-8")
    long_reader = PlacesReader(taxonomy)
    assert long_reader.read(too_long) == [] and "column name" in long_reader.errors.messages()[0]

    registered = [Place(**_plain(p), id=i + 1) for i, p in enumerate(places)]
    data = places_csv(registered, taxonomy).decode("utf-8-sig")
    cells = [row[0] for row in csv.reader(io.StringIO(data))][1:]
    assert cells[1].startswith("'=") and cells[2].startswith("'＋")  # never a formula in a spreadsheet
    back = tmp_path / "back.csv"
    back.write_text(data, encoding="utf-8")
    again = PlacesReader(taxonomy)
    assert [p.name for p in again.read(back)] == names  # the quote is removed again on import


def _plain(place: NewPlace) -> dict[str, Any]:
    return {
        "name": place.name,
        "kind": place.kind,
        "area": place.area,
        "organiser": place.organiser,
        "status": place.status,
        "started_on": place.started_on,
        "ended_on": place.ended_on,
    }


async def test_recent_places_are_the_staff_member_s_own_most_recent_first_without_ended_ones(store: Store) -> None:
    me = (await store.staff.ensure_admin(1, NOW)).id
    other = (await store.staff.ensure_admin(2, NOW)).id
    async with store.db.transaction() as tx:
        salon = await store.places.add(tx, NewPlace("境南ふれあいサロン", "salon-elderly", "kyonan"), NOW)
        ibasho = await store.places.add(tx, NewPlace("みんなの居場所", "ibasho", "kyonan"), NOW)
        ended = await store.places.add(
            tx, NewPlace("閉じたサロン", "salon-elderly", "kyonan", status=PlaceStatus.ENDED), NOW
        )
        chuo = await store.places.add(tx, NewPlace("中央サロン", "salon-elderly", "chuo"), NOW)
    visits = [(me, salon, 1), (me, ibasho, 3), (me, salon, 2), (me, ended, 4), (other, chuo, 5), (me, chuo, 1)]
    async with store.db.transaction() as tx:
        for staff_id, place, day in visits:
            outing = NewOuting("outing", place.kind, None, place.id)
            await store.records.save_submission(
                tx, Submission(staff_id, date(2026, 11, day), place.area, outing), "visit", NOW
            )
    recent = await store.places.recent_for(me)
    assert [p.name for p in recent] == ["みんなの居場所", "境南ふれあいサロン", "中央サロン"]
    assert [p.name for p in await store.places.recent_for(me, area="kyonan")] == [
        "みんなの居場所",
        "境南ふれあいサロン",
    ]
    # Renaming a place changes no past outing: they point at the place, not its name.
    async with store.db.transaction() as tx:
        assert await store.places.update(
            tx, salon.__class__(**{**_plain(salon), "name": "境南サロン", "id": salon.id}), NOW
        )
    row = await store.db.fetchone("SELECT count(*) FROM outings WHERE place_id = ?", (salon.id,))
    assert row is not None and row[0] == 2
    assert (await store.places.get(salon.id)).name == "境南サロン"  # type: ignore[union-attr]


async def test_the_records_export_carries_the_place_and_an_import_keeps_it(store: Store, tmp_path: Path) -> None:
    me = (await store.staff.ensure_admin(1, NOW)).id
    async with store.db.transaction() as tx:
        salon = await store.places.add(tx, NewPlace("＝境南ふれあいサロン", "salon-elderly", "kyonan"), NOW)
        outing = NewOuting("outing", "salon-elderly", 12, salon.id)
        await store.records.save_submission(tx, Submission(me, date(2020, 6, 1), "kyonan", outing), "visit", NOW)
    exported = await export_year(store, tmp_path / "records.csv")
    rows = exported_rows(exported)
    assert rows[0]["place"] == "'＝境南ふれあいサロン"  # text, never a formula

    fresh = await Store.open(tmp_path / "fresh.sqlite3", Sealer.from_text(TEST_KEY))
    try:
        report = await run(fresh, "records", exported)
        assert report.ok, report.errors
        place = await fresh.places.named("kyonan", "＝境南ふれあいサロン")
        assert place is not None and place.kind == "salon-elderly" and not place.confirmed  # for a supervisor
        row = await fresh.db.fetchone("SELECT place_id, headcount FROM outings")
        assert row is not None and tuple(row) == (place.id, 12)
        assert exported_rows(await export_year(fresh, tmp_path / "again.csv")) == rows  # the round trip keeps it
    finally:
        await fresh.close()
