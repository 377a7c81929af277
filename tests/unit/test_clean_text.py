"""Text from outside loses what could hide, reorder or forge what is shown after it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.text import clean_text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain words", "plain words"),
        ("two\nlines\tand a tab", "two\nlines\tand a tab"),
        ("windows\r\nline\rends", "windows\nline\nends"),
        ("nul\x00 bell\x07 esc\x1b[31m del\x7f c1\x85", "nul bell esc[31m del c1"),
        ("pay \u202eDSU 00.001\u202c now", "pay DSU 00.001 now"),  # right-to-left override
        ("isolate \u2066x\u2069 mark \u200e\u200f", "isolate x mark "),
        ("zero\u200bwidth\u200cnon\u2060joiner\ufeff", "zerowidthnonjoiner"),
        ("a\u200db", "ab"),  # a zero-width joiner between letters only hides a join
        ("\U0001f469\u200d\U0001f4bb coder", "\U0001f469\u200d\U0001f4bb coder"),  # 👩‍💻 stays
        ("\u2764\ufe0f\u200d\U0001f525", "\u2764\ufe0f\u200d\U0001f525"),  # ❤️‍🔥 stays
        ("line\u2028separator\u2029", "lineseparator"),
        ("Café é 日本 ١٢٣", "Café é 日本 ١٢٣"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@given(st.text())
def test_nothing_invisible_or_controlling_survives(raw: str) -> None:
    import unicodedata

    out = clean_text(raw)
    assert clean_text(out) == out
    for index, char in enumerate(out):
        category = unicodedata.category(char)
        assert category != "Cc" or char in "\n\t", repr(char)
        assert char not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\ufeff"
        if char == "\u200d":
            assert 0 < index < len(out) - 1
