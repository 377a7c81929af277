"""Return reasons (ARCHITECTURE §4/§5) and the words people type for them."""

from __future__ import annotations

import re
from enum import StrEnum


class Reason(StrEnum):
    DEFECTIVE = "DEFECTIVE"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    WRONG_ITEM = "WRONG_ITEM"
    SIZE_TOO_SMALL = "SIZE_TOO_SMALL"
    SIZE_TOO_LARGE = "SIZE_TOO_LARGE"
    UNWANTED = "UNWANTED"
    DAMAGED = "DAMAGED"
    REFUND_NOT_RECEIVED = "REFUND_NOT_RECEIVED"
    OTHER = "OTHER"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


ALIASES: dict[str, Reason] = {
    "BROKEN": Reason.DAMAGED,
    "FAULTY": Reason.DEFECTIVE,
    "WRONG": Reason.WRONG_ITEM,
    "TOO_SMALL": Reason.SIZE_TOO_SMALL,
    "TOO_LARGE": Reason.SIZE_TOO_LARGE,
    "TOO_BIG": Reason.SIZE_TOO_LARGE,
    "NOT_WANTED": Reason.UNWANTED,
    "REFUND_MISSING": Reason.REFUND_NOT_RECEIVED,
    "MISSING_REFUND": Reason.REFUND_NOT_RECEIVED,
    "NO_REFUND": Reason.REFUND_NOT_RECEIVED,
    "NOT_REFUNDED": Reason.REFUND_NOT_RECEIVED,
    "NEVER_REFUNDED": Reason.REFUND_NOT_RECEIVED,
    "REFUND_NEVER_ARRIVED": Reason.REFUND_NOT_RECEIVED,
    "REFUND_NOT_ARRIVED": Reason.REFUND_NOT_RECEIVED,
    "REFUND_NEVER_RECEIVED": Reason.REFUND_NOT_RECEIVED,
}

_SEPARATORS = re.compile(r"[\s_\-]+")
MAX_REASON_WORDS = max(len(r.value.split("_")) for r in Reason)


def _key(words: str) -> str:
    return _SEPARATORS.sub("_", words.strip()).upper()


def reason_from_word(word: str) -> Reason | None:
    """The reason a single token names (`wrong-item`, `WRONG_ITEM`, `broken`), or None."""
    key = _key(word)
    if key in Reason.__members__:
        return Reason[key]
    return ALIASES.get(key)


def split_reason(text: str) -> tuple[Reason | None, str]:
    """Take a leading reason off free text: the longest run of words that names one.

    `wrong item it was blue` -> (WRONG_ITEM, "it was blue"); `it broke` -> (None, "it broke").
    """
    words = text.split()
    for count in range(min(MAX_REASON_WORDS, len(words)), 0, -1):
        reason = reason_from_word(" ".join(words[:count]))
        if reason is not None:
            rest = text.strip()
            for word in words[:count]:
                rest = rest[rest.index(word) + len(word) :]
            return reason, rest.strip()
    return None, text.strip()
