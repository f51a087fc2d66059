"""The button codec: every kind round-trips, fits Telegram's 64 bytes, and forged data decodes to nothing."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import buttons
from core.buttons import LIMIT, Button, FlowPress, FollowUpClose, StaffPage, decode, decode_as, encode

# What travels in button fields: ids up to 2^31, taxonomy codes (at most 24 of [a-z0-9_-]), flow actions.
IDS = st.integers(min_value=0, max_value=2**31 - 1)
CODES = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,23}", fullmatch=True)
ACTIONS = st.one_of(
    st.sampled_from(["k", "x", "b", "s", "d", "n", "e:date", "e:add_consultation", "e:memo_clear"]),
    st.builds(lambda op, code: f"{op}:{code}", st.sampled_from(["p", "t", "e", "z"]), CODES),
    st.builds(lambda i: f"e:cons.{i}", st.integers(min_value=0, max_value=14)),
)


def strategy_for(kind: type[Button]) -> st.SearchStrategy[Button]:
    hints = typing.get_type_hints(kind)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for f in dataclasses.fields(kind):  # type: ignore[arg-type]
        hint = hints[f.name]
        if hint is int:
            fields[f.name] = IDS
        elif hint is bool:
            fields[f.name] = st.booleans()
        elif typing.get_origin(hint) is Literal:
            fields[f.name] = st.sampled_from(typing.get_args(hint))
        elif f.name == "action":
            fields[f.name] = ACTIONS
        else:
            fields[f.name] = CODES
    return st.builds(kind, **fields)


ANY_BUTTON = st.one_of(*(strategy_for(kind) for kind in buttons.kinds().values()))


@given(ANY_BUTTON)
def test_every_button_round_trips_within_telegrams_64_bytes(button: Button) -> None:
    data = encode(button)
    assert len(data.encode("utf-8")) <= LIMIT
    assert decode(data) == button
    assert decode_as(data, type(button)) == button


@given(st.text(max_size=300))
def test_any_text_decodes_to_a_button_or_nothing_never_an_error(data: str) -> None:
    found = decode(data)
    assert found is None or isinstance(found, Button)


@pytest.mark.parametrize(
    "data",
    [
        *("", "f", "f:", "f:1:2", "f:x:2:p:a", "f:٣:2:p:a", "f:1:2:", "sp:", "sp:1:2", "sp:+1", "sp: 1", "fo:1"),
        *("zz:1", f"sp:{'9' * 19}", "ex:2026x", "rp:century", "c:1:2:maybe"),
    ],
)
def test_forged_data_decodes_to_nothing(data: str) -> None:
    assert decode(data) is None


def test_the_last_field_may_carry_a_colon() -> None:
    assert decode("f:3:4:p:salon-elderly") == FlowPress(3, 4, "p:salon-elderly")
    assert decode(encode(FollowUpClose(1, "a:b"))) == FollowUpClose(1, "a:b")
    assert decode("sp:-1") == StaffPage(-1)  # a negative page is a number: the list clamps it


def test_a_button_too_long_for_telegram_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="over 64"):
        encode(FlowPress(1, 1, "p:" + "x" * 60))


def test_every_kind_has_its_own_prefix() -> None:
    prefixes = list(buttons.kinds())
    assert len(prefixes) == len(set(prefixes))
    with pytest.raises(ValueError, match="fresh"):
        buttons.kind("f")(type("Again", (Button,), {"__annotations__": {"x": int}}))
