"""The taxonomy file: defaults load, mistakes are reported with file, entry and problem."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from core.taxonomy import DEFAULT_TAXONOMY, TaxonomyError, load_taxonomy, parse_taxonomy


def default_text() -> str:
    return resources.files("core").joinpath(DEFAULT_TAXONOMY).read_text(encoding="utf-8")


def test_the_defaults_have_three_zones_thirteen_areas_and_every_dimension() -> None:
    taxonomy = load_taxonomy()
    assert len(taxonomy.zones) == 3 and len(taxonomy.areas()) == 13
    assert [c.label for c in taxonomy.activity][:2] == ["活動先への出向き・参加", "話し合い（会議・打合せ）への参加"]
    assert len(taxonomy.agency) == 15 and len(taxonomy.topic) == 9
    assert len(taxonomy.categories_of("group")) == 20
    assert len(taxonomy.categories_of("council")) == 0
    assert taxonomy.outing_channel == "outing"
    assert [c.label for c in taxonomy.outcome] == ["つないだ", "解決", "見守り継続", "連絡がとれない", "その他"]


def test_codes_and_labels_both_resolve() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.agency.resolve("子ども政策課") == taxonomy.agency.resolve("children")
    assert taxonomy.resolve_area("境南町") == taxonomy.area("kyonan")
    assert taxonomy.agency.label("gone") == "gone"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('code = "children"', 'code = "elderly"'), "agency: code 'elderly' is used twice"),
        (('code = "phone"', 'code = "Phone!"'), "channel #3 (code 'Phone!') code: code 'Phone!' must be"),
        (('label = "健康課"', 'label = ""'), "agency #7 (code 'health') label: label is empty"),
        (("\nat_outing = true", "\nat_outing = false"), "exactly one channel must have at_outing"),
        (("order = 1\n", 'order = "first"\n'), "order: Input should be a valid integer"),
        (("[[topic]]", "[[topics]]"), "topics: Extra inputs are not permitted"),
    ],
)
def test_an_invalid_file_names_the_file_the_entry_and_the_problem(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "council.toml"
    path.write_text(default_text().replace(*change, 1), encoding="utf-8")
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(path)
    assert str(caught.value).startswith(str(path) + ": ")
    assert message in str(caught.value)


def test_a_file_that_is_not_toml_or_missing_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[zones]\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="not valid TOML"):
        load_taxonomy(bad)
    with pytest.raises(TaxonomyError, match="cannot be read"):
        load_taxonomy(tmp_path / "missing.toml")


def test_labels_change_without_touching_codes() -> None:
    taxonomy = parse_taxonomy(default_text().replace('label = "健康課"', 'label = "健康づくり推進課"'), "edited")
    assert taxonomy.agency.label("health") == "健康づくり推進課"


def test_order_decides_the_position_not_the_file_position() -> None:
    text = default_text().replace(
        'code = "children"\nlabel = "子ども政策課"\norder = 1', 'code = "children"\nlabel = "子ども政策課"\norder = 99'
    )
    taxonomy = parse_taxonomy(text, "reordered")
    assert taxonomy.agency.categories[-1].code == "children"
