"""How the customer's address reads in Slack: masked wherever a channel may read it
(`e•••@example.com`), in full only in private views (a modal, an ephemeral answer) for people
who may see the customer. Every builder that shows an address or a phone asks here, so a
channel message never carries one whole. Returned text is escaped, fit for any text field."""

from __future__ import annotations

import re

from blocks.text import inline
from domain.masking import mask_email, mask_phone

# A word with an @ in it (an address, well formed or not) and a phone number, inside free text.
_AT_WORD = re.compile(r"\S*@\S*")
_PHONE = re.compile(r"\+?\d[\d ().-]{5,}\d")
_WRAPPING = "<>()[]\"',;:"


def masked(value: str | None) -> str:
    """An email address or phone number as a channel may show it, escaped; `None` reads
    "no address"."""
    if not value:
        return "no address"
    raw = value.strip()
    if "@" in raw:
        return inline(mask_email(raw), 300)
    if _PHONE.fullmatch(raw):
        return inline(mask_phone(raw), 40)
    return inline(mask_email(raw), 300)  # neither: shown no more than an address would be


def masked_within(text: str | None) -> str:
    """Free text (a sender line such as `Maya <maya@example.com>`) with every address and phone
    number in it masked, escaped."""
    raw = _PHONE.sub(lambda found: mask_phone(found[0]), text or "")
    return inline(_AT_WORD.sub(lambda found: _mask_word(found[0]), raw), 300)


def _mask_word(word: str) -> str:
    """`<maya@example.com>,` -> `<m•••@example.com>,`: the wrapping kept, the address masked."""
    core = word.lstrip(_WRAPPING)
    head = word[: len(word) - len(core)]
    core = core.rstrip(_WRAPPING + ".")
    tail = word[len(head) + len(core) :]
    return head + mask_email(core) + tail


def address(value: str | None, *, in_full: bool) -> str:
    """The address in full (a private view for someone who may see the customer), else
    masked; escaped either way."""
    if not in_full:
        return masked(value)
    return inline(value, 300) if value else "no address"


def recipient(name: str | None, email: str | None, *, in_full: bool) -> str:
    """`Maya Thompson <maya@example.com>`, or `e•••@example.com` alone when the viewer may not
    see the customer (their name is part of who they are), escaped."""
    shown = address(email, in_full=in_full)
    if in_full and name:
        return f"{inline(name, 200)} &lt;{shown}&gt;"
    return shown
