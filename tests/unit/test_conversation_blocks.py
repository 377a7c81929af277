"""The customer conversation in Slack: the customer's address is masked in every channel
message (in full only in the private views of people who may see the customer)."""

from __future__ import annotations

import json
from typing import Any

from blocks.disputes import customer_reply, evidence_card
from disputes.models import CaseFile, EvidenceItem
from domain.evidence import EvidenceKind
from tests.support.disputes import NOW, make_dispute
from tests.unit.test_hostile_text import check, texts

EMAIL = "maya.thompson@example.com"
MASKED = "m•••@example.com"


def shown(value: Any) -> str:
    """Every text field of a message, view or blocks, as one string."""
    if hasattr(value, "blocks"):
        return value.text + "\n" + "\n".join(texts(value.blocks))
    return "\n".join(texts(value))


# -- masking in the channel's other messages ---------------------------------------------------


def test_a_customers_reply_in_the_thread_shows_their_address_masked() -> None:
    reply = check(customer_reply(EMAIL, "Any news?"))
    everything = json.dumps(reply.blocks, ensure_ascii=False) + reply.text
    assert MASKED in everything and EMAIL not in everything
    named = check(customer_reply(f"Maya <{EMAIL}>", "hi"))
    assert "Maya &lt;m•••@example.com&gt;" in json.dumps(named.blocks, ensure_ascii=False)


def test_the_evidence_card_masks_the_customers_address_in_their_correspondence() -> None:
    def correspondence(direction: str, sender: str) -> EvidenceItem:
        last = {"direction": direction, "from": sender, "at": NOW.isoformat(), "excerpt": "hi"}
        return EvidenceItem(
            EvidenceKind.CUSTOMER_COMMUNICATION,
            "correspondence",
            "2 messages",
            {"last": last},
            None,
            NOW,
            "intake",
        )

    inbound = check(evidence_card(CaseFile(make_dispute(), [correspondence("inbound", EMAIL)])))
    everything = json.dumps(inbound.blocks, ensure_ascii=False)
    assert "by m•••@example.com" in everything and EMAIL not in everything
    ours = evidence_card(
        CaseFile(make_dispute(), [correspondence("outbound", "support@shop.example")])
    )
    assert "by support@shop.example" in json.dumps(ours.blocks)
