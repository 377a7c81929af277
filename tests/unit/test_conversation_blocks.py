"""The customer conversation in Slack: an approval that put the option to the customer says so,
and the customer's address is masked in every channel message (in full only in the private
views of people who may see the customer)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from blocks.disputes import customer_reply, evidence_card
from blocks.proposal import ProposalCard, proposal_decided, proposal_message, proposer_told
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


def card(**changes: Any) -> ProposalCard:
    base = ProposalCard(
        ref="D-7",
        number=7,
        proposal_id=4,
        kind_label="Store credit",
        amount="20.00 USD",
        note="",
        proposer="U0AGENT",
        outside_policy=False,
        needs_supervisor=False,
        justification=None,
    )
    return replace(base, **changes)


# -- the approval that put the option to the customer -------------------------------------------


def test_an_approval_that_went_to_the_customer_says_until_when_they_may_accept() -> None:
    offered = card(offered=True, offer_expires_at=NOW + timedelta(days=14))
    decided = check(proposal_decided(offered, decision="approved", decided_by="U0SUPER"))
    text = shown(decided)
    assert "Approved by <@U0SUPER>. The offer went to the customer, who has until <!date^" in text
    assert "to accept; nothing moves until they do." in text
    told = shown(
        proposer_told(
            offered, decision="approved", decided_by="U0SUPER", reason=None, permalink=None
        )
    )
    assert "The offer went to the customer" in told
    plain = shown(proposal_decided(card(), decision="approved", decided_by="U0SUPER"))
    assert "offer went" not in plain


def test_approving_an_option_the_customer_must_accept_is_confirmed_as_an_offer() -> None:
    button = check(proposal_message(card(offered=True))).blocks[-1]["elements"][0]
    assert button["confirm"]["title"]["text"] == "Approve the offer?"
    assert "nothing moves until they accept it" in button["confirm"]["text"]["text"]
    money = check(proposal_message(card())).blocks[-1]["elements"][0]
    assert money["confirm"]["title"]["text"] == "Approve refund?"


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
