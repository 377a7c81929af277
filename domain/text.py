"""Text from outside (a customer, an order system, a file name, a person), cleaned where it
enters: control characters, bidirectional overrides and stray zero-width characters are never
stored, so nothing shown later can hide, reorder or forge what follows it."""

from __future__ import annotations

import unicodedata

# Kept: newline and tab. Everything else below space, DEL and the C1 controls goes.
_KEPT_CONTROLS = frozenset("\n\t")
# Bidirectional embeddings, overrides and isolates (they reorder what is shown), the line and
# paragraph separators, and invisible marks that can split or hide words.
_INVISIBLE = frozenset(
    "\u061c\u200b\u200c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2066\u2067\u2068\u2069\ufeff"
)
_ZWJ = "\u200d"  # joins emoji into one (👩‍💻); anywhere else it only hides a join


def clean_text(text: str) -> str:
    """`text` without control characters and invisible formatting; CRLF and CR become LF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept: list[str] = []
    for index, char in enumerate(text):
        if char == _ZWJ:
            if _is_emoji(text, index - 1) and _is_emoji(text, index + 1):
                kept.append(char)
            continue
        if char in _INVISIBLE:
            continue
        if unicodedata.category(char) == "Cc" and char not in _KEPT_CONTROLS:
            continue
        kept.append(char)
    return "".join(kept)


def _is_emoji(text: str, index: int) -> bool:
    """A pictograph (or its variation selector / skin tone) at `index`."""
    if not 0 <= index < len(text):
        return False
    code = ord(text[index])
    return (
        0x1F000 <= code <= 0x1FAFF  # pictographs, emoticons, symbols, skin tones
        or 0x2600 <= code <= 0x27BF  # miscellaneous symbols and dingbats
        or code in (0xFE0F, 0x2640, 0x2642, 0x2695, 0x2696, 0x2708, 0x2764)
    )
