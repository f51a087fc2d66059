"""Typed text and display names: characters that hide or steer what is shown, and labels that look like a name."""

from __future__ import annotations

import re
import unicodedata

# Control characters (C0, DEL, C1), format characters (zero-width, BOM, word joiner, bidi marks, overrides and
# isolates, tag characters, soft hyphen...) and the line and paragraph separators: none is seen, all change
# how the text around them is shown (reordered, hidden, split, or a terminal's colours in `fieldbot audit`).
# Private-use (Co) and unassigned (Cn) characters are let through: they steer nothing, only show as a box where
# unknown, and refusing them would refuse a phone's own symbols and every emoji newer than this Python's tables.
# A lone surrogate (Cs) is no character at all, and could not be written as UTF-8.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_ZWJ = "\u200d"
# What may stand on either side of a zero-width joiner inside an emoji sequence (👨‍👩‍👧, 🙇‍♀️, 👩🏻‍⚕️, 🏳️‍🌈):
# a symbol, a skin tone (Sk) or a variation selector (Mn) before it, a symbol after it.
_EMOJI_BEFORE = frozenset({"So", "Sk", "Mn"})
_EMOJI_AFTER = frozenset({"So"})

_HONORIFIC = re.compile(r"(?:さん|さま|様|君|くん|ちゃん|氏|殿)$")
# The most common family names (about the first 130 by number of people), then a given name of 1-3 kanji or
# kana, with or without a blank: 山田花子, 佐々木 よしこ. A label is short, so anything longer is no name alone.
_FULL_NAME = re.compile(
    r"^(?:佐藤|鈴木|高橋|田中|伊藤|渡辺|渡邊|山本|中村|小林|加藤|吉田|山田|佐々木|山口|松本|井上|木村|林|斎藤|斉藤"
    r"|清水|山崎|森|池田|橋本|阿部|石川|山下|中島|石井|小川|前田|岡田|長谷川|藤田|後藤|近藤|村上|遠藤|青木|坂本"
    r"|福田|太田|西村|藤井|金子|岡本|藤原|中野|三浦|原田|中川|松田|竹内|小野|田村|中山|和田|石田|森田|上田|原"
    r"|内田|柴田|酒井|宮崎|横山|高木|安藤|宮本|大野|小島|谷口|今井|工藤|高田|増田|丸山|杉山|村田|大塚|新井|小山"
    r"|平野|藤本|河野|上野|野口|武田|松井|千葉|岩崎|菅原|木下|久保|佐野|野村|松尾|市川|菊地|杉本|古川|大西|島田"
    r"|水野|桜井|高野|渡部|吉川|山内|西田|飯田|菊池|西川|小松|北村|安田|五十嵐|川口|平田|関|中田|久保田|服部"
    r"|東|岩田|土屋|川崎|福島|本田|辻|樋口|秋山|田口|永井|山中|中西|吉村|川上|石原|大橋|松岡|馬場|浅野|荒木)"
    r" ?[\u3005\u3041-\u3096\u30a1-\u30fa\u30fc\u3400-\u4dbf\u4e00-\u9fff]{1,3}$"
)


def _hidden_at(text: str, k: int) -> bool:
    """Whether the character at `k` is a control or format character (a joiner inside an emoji is not)."""
    ch = text[k]
    if unicodedata.category(ch) not in _HIDDEN:
        return False
    if ch != _ZWJ or k == 0 or k == len(text) - 1:
        return True
    before, after = unicodedata.category(text[k - 1]), unicodedata.category(text[k + 1])
    return not (before in _EMOJI_BEFORE and after in _EMOJI_AFTER)


def has_hidden(text: str, allowed: str = "") -> bool:
    """Whether the text carries a control or format character other than those `allowed` (e.g. "\\n\\t")."""
    return any(_hidden_at(text, k) for k, ch in enumerate(text) if ch not in allowed)


def clean_name(name: str) -> str:
    """A display name without control and format characters, its blanks collapsed (a line break becomes one).

    Names are cleaned rather than refused: a person cannot change their messenger name for us.
    """
    kept = "".join(" " if ch.isspace() else ch for k, ch in enumerate(name) if ch.isspace() or not _hidden_at(name, k))
    return " ".join(kept.split())


def looks_like_full_name(label: str) -> bool:
    """Whether a follow-up label looks like a person's name: an honorific at its end (さん, 様, くん...), or a common
    family name followed by a given name. A warning, never a refusal: a nickname may look like this too."""
    label = " ".join(label.split())
    return bool(_HONORIFIC.search(label) or _FULL_NAME.match(label))
