"""`/dispute help` lists every reason and the words people type for them."""

from __future__ import annotations

import json

from blocks.help import help_message
from domain.reasons import Reason


def help_text() -> str:
    return json.dumps(help_message().blocks, ensure_ascii=False)


def test_help_lists_every_reason() -> None:
    text = help_text()
    for reason in Reason:
        assert f"`{reason.value.lower().replace('_', '-')}`" in text, reason


def test_help_lists_refund_not_received_and_its_aliases() -> None:
    text = help_text()
    assert "`refund-not-received`" in text
    for alias in ("refund missing", "no refund", "not refunded", "refund never arrived"):
        assert f"`{alias}`" in text
    assert "`refund not arrived` / `refund never received` → Refund not received" in text


def test_help_writes_aliases_as_people_type_them() -> None:
    text = help_text()
    assert "`broken` → Damaged" in text
    assert "`too large` / `too big` → Size too large" in text
    assert "_" not in text.split("also ", 1)[1].split("Example")[0]
