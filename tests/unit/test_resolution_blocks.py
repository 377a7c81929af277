"""The review, proposal and refund blocks pass Block Kit validation, even with long texts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from blocks.evidence_modal import evidence_modal
from blocks.ids import ActionId, BadSubject, Subject
from blocks.kit import field_errors
from blocks.proposal import (
    ProposalCard,
    proposal_decided,
    proposal_message,
    proposer_told,
    request_changes_modal,
    supervisor_ping,
    supervisor_ping_handled,
)
from blocks.refund_messages import refund_outcome
from blocks.review_modal import OUTSIDE_POLICY, REVIEW_OPTIONS, resolution_modal, review_button
from blocks.text import Message
from domain.evidence import EvidenceKind
from sandbox.slack.blockkit import validate_blocks, validate_message, validate_view

LONG = "Très <long> & detailed note. " * 200  # ~5800 characters with mrkdwn specials
LONG_NAME = "Maximilian-Alexander " * 20


def valid(message: Message) -> Message:
    assert validate_message(message.text, message.blocks) == []
    return message


def modal(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "number": 12,
        "ref": "D-12",
        "currency": "USD",
        "paid": "129.00",
        "refundable": "94.00",
        "recommended": "Partial refund (50% of the paid amount)",
        "allowed": ["partial_refund", "store_credit", "uphold"],
        "missing_evidence": [],
        "fee_percent": 15,
    }
    view = resolution_modal(**(args | changes))
    assert validate_view(view) == []
    return view


def block(view_or_blocks: Any, block_id: str) -> dict[str, Any]:
    blocks = view_or_blocks["blocks"] if isinstance(view_or_blocks, dict) else view_or_blocks
    return next(b for b in blocks if b.get("block_id") == block_id)


def elements(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [el for b in blocks if b["type"] == "actions" for el in b["elements"]]


def test_new_action_ids_are_unique() -> None:
    values = [a.value for a in ActionId]
    assert len(values) == len(set(values))
    assert ActionId.PROPOSE == "review.propose"
    assert ActionId.EVIDENCE_MODAL == "evidence.modal"


def test_subject_round_trips_with_and_without_proposal() -> None:
    plain = Subject(dispute=3)
    assert plain.encode() == '{"dispute":3}'  # unchanged for values written before proposals
    assert Subject.decode(plain.encode()) == plain
    with_proposal = Subject(dispute=3, proposal=9)
    assert Subject.decode(with_proposal.encode()) == with_proposal
    assert Subject.decode('{"dispute":3,"proposal":null}').proposal is None
    for bad in ('{"dispute":3,"proposal":0}', '{"dispute":3,"proposal":"x"}'):
        with pytest.raises(BadSubject):
            Subject.decode(bad)


def test_review_button() -> None:
    actions = review_button(12)
    assert validate_blocks([actions]) == []
    start, evidence = actions["elements"]
    assert (start["action_id"], start["style"]) == ("review.start", "primary")
    assert evidence["action_id"] == "evidence.add"
    assert (
        Subject.decode(start["value"]) == Subject.decode(evidence["value"]) == Subject(dispute=12)
    )


def test_resolution_modal_shape() -> None:
    view = modal()
    assert view["callback_id"] == "review.propose"
    assert view["title"]["text"] == "Resolve D-12"
    assert view["submit"]["text"] == "Propose"
    assert Subject.decode(view["private_metadata"]) == Subject(dispute=12)
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == ["kind", "amount", "percent", "note", "justification"]
    for b in inputs:
        assert b["element"]["action_id"] == b["block_id"]
    assert [b["block_id"] for b in inputs if not b["optional"]] == ["kind"]
    percent = block(view, "percent")["element"]
    assert percent["type"] == "number_input"
    assert (percent["is_decimal_allowed"], percent["min_value"], percent["max_value"]) == (
        False,
        "1",
        "100",
    )
    assert block(view, "amount")["hint"]["text"] == (
        "e.g. 25.00 in USD, or leave empty with a percentage"
    )
    assert block(view, "note")["element"]["multiline"] is True
    assert "outside policy" in block(view, "justification")["hint"]["text"]
    summary = view["blocks"][0]["text"]["text"]
    assert "Partial refund (50% of the paid amount)" in summary
    assert "Partial refund, Store credit, Uphold" in summary
    assert "15%" in summary
    assert "override_reason" not in {b.get("block_id") for b in view["blocks"]}


def test_options_outside_policy_are_labelled() -> None:
    options = block(modal(), "kind")["element"]["options"]
    assert [o["value"] for o in options] == [r.value for r in REVIEW_OPTIONS]
    assert [o["value"] for o in options] == [
        "full_refund",
        "partial_refund",
        "replacement",
        "store_credit",
        "waive_fee",
        "overturn",
        "uphold",
        "deny",
        "carrier_claim",
    ]
    labels = {o["value"]: o["text"]["text"] for o in options}
    assert labels["partial_refund"] == "Partial refund"
    assert labels["full_refund"] == f"Full refund {OUTSIDE_POLICY}"
    outside = {v for v, text in labels.items() if OUTSIDE_POLICY in text}
    assert outside == {
        "full_refund",
        "replacement",
        "waive_fee",
        "overturn",
        "deny",
        "carrier_claim",
    }


def test_nothing_allowed_labels_everything_and_still_validates() -> None:
    view = modal(allowed=[], recommended=None, fee_percent=None)
    options = block(view, "kind")["element"]["options"]
    assert all(OUTSIDE_POLICY in o["text"]["text"] for o in options)
    assert "no rule recommends one" in view["blocks"][0]["text"]["text"]
    assert "Restocking fee" not in view["blocks"][0]["text"]["text"]


def test_missing_evidence_asks_why() -> None:
    view = modal(missing_evidence=["Photos", "Condition report"])
    warning = view["blocks"][1]["text"]["text"]
    assert "Photos, Condition report" in warning and ":warning:" in warning
    reason = block(view, "override_reason")
    assert reason["optional"] is False
    assert reason["label"]["text"] == "Why go on without it?"
    assert reason["element"] == {
        "type": "plain_text_input",
        "multiline": True,
        "max_length": 2500,
        "action_id": "override_reason",
    }


def test_values_refill_the_modal_and_long_values_are_clipped() -> None:
    values = {
        "kind": "uphold",
        "amount": "12.50",
        "percent": 40,
        "note": LONG,
        "justification": "because",
        "override_reason": LONG,
    }
    view = modal(values=values, missing_evidence=["Photos"])
    kind = block(view, "kind")["element"]
    assert kind["initial_option"] in kind["options"]
    assert kind["initial_option"]["value"] == "uphold"
    assert block(view, "amount")["element"]["initial_value"] == "12.50"
    assert block(view, "percent")["element"]["initial_value"] == "40"
    note = block(view, "note")["element"]
    assert len(note["initial_value"]) <= note["max_length"]
    assert len(block(view, "override_reason")["element"]["initial_value"]) <= 2500


def test_a_recommendation_that_moves_no_money_is_preselected() -> None:
    kind = block(modal(recommended_kind="store_credit"), "kind")["element"]
    assert kind["initial_option"]["value"] == "store_credit"
    kind = block(modal(recommended_kind="store_credit", values={"kind": "uphold"}), "kind")
    assert kind["element"]["initial_option"]["value"] == "uphold"
    # A recommended deny is offered like any option (the policy card and the modal list one
    # set of options), and preselected: it moves no money.
    kind = block(modal(recommended_kind="deny"), "kind")["element"]
    assert kind["initial_option"]["value"] == "deny"


@pytest.mark.parametrize("money", ["full_refund", "partial_refund", "overturn", "waive_fee"])
def test_an_option_that_sends_money_is_never_preselected(money: str) -> None:
    # A reload keeps the initial option: a preselected refund was once sent instead of the
    # partial one the person had picked.
    assert "initial_option" not in block(modal(recommended_kind=money), "kind")["element"]
    refill = modal(recommended_kind="store_credit", values={"kind": money})
    assert "initial_option" not in block(refill, "kind")["element"]


def test_long_inputs_still_validate() -> None:
    view = modal(
        ref="D-123456789012",
        recommended=LONG,
        allowed=[r.value for r in REVIEW_OPTIONS],
        missing_evidence=[LONG_NAME] * 30,
        values={"amount": "9" * 100},
    )
    assert len(view["title"]["text"]) <= 24


def test_field_errors() -> None:
    assert field_errors({"amount": "Not an amount"}) == {
        "response_action": "errors",
        "errors": {"amount": "Not an amount"},
    }


PROPOSAL = {
    "ref": "D-12",
    "number": 12,
    "proposal_id": 4,
    "kind_label": "Partial refund",
    "amount": "25.00 USD",
    "note": "Box was crushed; photos agree.",
    "proposer": "U0MANAGER1",
    "outside_policy": False,
    "needs_supervisor": False,
    "justification": None,
    "proposal_number": 2,
    "customer": "Maya Thompson",
}


def card(changes: dict | None = None) -> ProposalCard:
    return ProposalCard(**PROPOSAL | (changes or {}))


def test_proposal_message_buttons_and_confirm() -> None:
    message = valid(proposal_message(card()))
    body = json.dumps(message.blocks)
    assert "<@U0MANAGER1>" in body and "25.00 USD" in body and "Partial refund" in body
    assert ":warning:" not in body
    approve, changes = elements(message.blocks)
    assert (approve["action_id"], approve["style"]) == ("proposal.approve", "primary")
    # Slack keeps red for what cannot be undone: sending a proposal back is not that.
    assert changes["action_id"] == "proposal.changes" and "style" not in changes
    assert "confirm" not in changes
    assert Subject.decode(approve["value"]) == Subject(dispute=12, proposal=4)
    assert Subject.decode(changes["value"]) == Subject(dispute=12, proposal=4)
    confirm = approve["confirm"]
    assert confirm["title"]["text"] == "Approve refund?"
    assert confirm["text"]["text"] == "This sends 25.00 USD to Maya Thompson's card, for D-12."
    assert (confirm["confirm"]["text"], confirm["deny"]["text"]) == ("Approve", "Cancel")


def test_proposals_are_numbered_within_their_dispute() -> None:
    message = valid(proposal_message(card()))
    assert message.blocks[0]["text"]["text"].startswith(":memo: *Proposal 2 for D-12:*")
    assert message.text.startswith("Proposal 2 for D-12:")
    decided = proposal_decided(card(), decision="approved", decided_by="U0SUPER")
    assert decided.text == "Proposal 2 for D-12: approved"


def test_the_confirm_says_the_customer_when_the_name_is_unknown() -> None:
    confirm = elements(valid(proposal_message(card({"customer": None}))).blocks)[0]["confirm"]
    assert confirm["text"]["text"] == "This sends 25.00 USD to the customer's card, for D-12."


def test_the_override_reason_is_shown_to_the_approver() -> None:
    message = valid(proposal_message(card({"override_reason": "customer sent photos by post"})))
    text = json.dumps(message.blocks)
    assert "Reviewed without the required evidence, because:" in text
    assert "customer sent photos by post" in text


def test_a_named_cause_replaces_the_generic_supervisor_flag() -> None:
    cause = "frequent returns (Policy 7.2: 3 or more returns in 90 days)"
    message = valid(proposal_message(card({"needs_supervisor": True, "supervisor_cause": cause})))
    text = json.dumps(message.blocks)
    assert "a supervisor must approve: frequent returns" in text
    assert "over the manager's limit" not in text


def test_request_changes_asks_for_a_reason() -> None:
    view = request_changes_modal(card())
    assert validate_view(view) == []
    assert view["callback_id"] == "proposal.changes_modal"
    assert Subject.decode(view["private_metadata"]) == Subject(dispute=12, proposal=4)
    (reason,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert (reason["block_id"], reason["optional"]) == ("reason", False)


def test_the_proposer_is_told_of_the_decision() -> None:
    link = "https://x.slack.com/archives/C1/p1"
    approved = valid(
        proposer_told(
            card(), decision="approved", decided_by="U0SUPER", reason=None, permalink=link
        )
    )
    text = approved.blocks[0]["text"]["text"]
    assert "<@U0SUPER> approved your Proposal 2 for D-12 (Partial refund 25.00 USD)" in text
    assert f"<{link}|Open the thread>" in text
    back = valid(
        proposer_told(
            card(),
            decision="changes_requested",
            decided_by="U0SUPER",
            reason="Refund 20.00: the <lid> was fine",
            permalink=None,
        )
    )
    text = back.blocks[0]["text"]["text"]
    assert "asked for changes to your Proposal 2 for D-12" in text
    assert "Refund 20.00: the &lt;lid&gt; was fine" in text


def test_proposal_without_money_says_so() -> None:
    message = valid(proposal_message(card({"amount": None, "kind_label": "Replacement"})))
    confirm = elements(message.blocks)[0]["confirm"]
    assert confirm["title"]["text"] == "Approve?"
    assert "no money is sent" in confirm["text"]["text"]


def test_proposal_flags() -> None:
    outside = valid(
        proposal_message(card({"outside_policy": True, "justification": "Loyal customer"}))
    )
    text = json.dumps(outside.blocks, ensure_ascii=False)
    assert ":warning: outside policy — a supervisor must approve" in text
    assert "Loyal customer" in text
    over = valid(proposal_message(card({"needs_supervisor": True})))
    assert "over the manager's limit" in json.dumps(over.blocks)


def test_proposal_with_long_texts_still_validates() -> None:
    long = PROPOSAL | {
        "note": LONG,
        "justification": LONG,
        "kind_label": LONG_NAME,
        "amount": "9" * 400 + " USD",
        "outside_policy": True,
        "ref": "D-" + "9" * 40,
    }
    message = valid(proposal_message(card(long)))
    approve = elements(message.blocks)[0]
    assert len(approve["confirm"]["text"]["text"]) <= 300
    note = message.blocks[1]["text"]["text"]
    assert note.startswith("> Très &lt;long&gt; &amp; detailed")
    assert all(line.startswith("> ") for line in note.splitlines())


def test_multiline_note_is_quoted_line_by_line() -> None:
    message = valid(proposal_message(card({"note": "first\nsecond"})))
    assert message.blocks[1]["text"]["text"] == "> first\n> second"


def test_proposal_decided() -> None:
    approved = valid(proposal_decided(card(), decision="approved", decided_by="U0SUPER"))
    assert elements(approved.blocks) == []
    assert approved.blocks[-1]["text"]["text"].endswith("Approved by <@U0SUPER>")
    assert "Partial refund" in json.dumps(approved.blocks)
    changes = valid(
        proposal_decided(
            card({"note": LONG}),
            decision="changes_requested",
            decided_by="U0SUPER",
            reason=LONG,
        )
    )
    assert elements(changes.blocks) == []
    assert (
        "Changes requested by <@U0SUPER>: Très &lt;long&gt;" in changes.blocks[-1]["text"]["text"]
    )


def test_supervisor_ping() -> None:
    link = "https://x.slack.com/archives/C1/p1"
    ping = valid(supervisor_ping(card(), link, "outside policy"))
    text = ping.blocks[0]["text"]["text"]
    assert "*Proposal 2 for D-12* needs a supervisor: outside policy" in text
    assert (
        "Partial refund · *25.00 USD* · customer Maya Thompson · proposed by <@U0MANAGER1>" in text
    )
    assert f"<{link}|Open the thread>" in text
    assert "Open the thread" not in valid(supervisor_ping(card(), None, LONG)).blocks[0]["text"]


def test_a_handled_alert_says_who_when_and_the_outcome() -> None:
    handled = valid(
        supervisor_ping_handled(
            card(),
            None,
            "outside policy",
            decision="changes_requested",
            decided_by="U0SUPER",
            decided_at="2026-11-30 10:00 UTC",
        )
    )
    text = handled.blocks[0]["text"]["text"]
    assert "*Handled:* sent back for changes by <@U0SUPER> 2026-11-30 10:00 UTC" in text
    assert elements(handled.blocks) == []


@pytest.mark.parametrize(
    "status", ["succeeded", "duplicate", "failed", "unknown", "needs_attention", "found"]
)
def test_refund_outcome(status: str) -> None:
    ids = {"duplicate": ("re_1", "re_2"), "failed": ()}.get(status, ("re_123",))
    message = valid(
        refund_outcome(
            ref="D-12",
            number=12,
            request_id="rr_1",
            status=status,  # type: ignore[arg-type]
            amount="25.00 USD",
            provider_refund_ids=ids,
            detail=None if status in ("succeeded", "found") else "card_declined",
        )
    )
    buttons = elements(message.blocks)
    head = message.blocks[0]["text"]["text"]
    if status == "failed":
        (retry,) = buttons
        assert retry["action_id"] == "refund.retry"
        assert Subject.decode(retry["value"]) == Subject(dispute=12)
        assert "refused (card_declined)" in head
    else:
        assert buttons == []
    for refund_id in ids:
        assert refund_id in json.dumps(message.blocks)
    words = {
        "duplicate": "more than once",
        "unknown": "not known yet",
        "needs_attention": "needs attention",
        "found": "Nothing new was sent",
    }
    assert words.get(status, "") in head


def test_refund_outcome_long_detail_validates() -> None:
    for status in ("failed", "duplicate", "needs_attention"):
        valid(
            refund_outcome(
                ref="D-12",
                number=12,
                request_id="rr_" + "x" * 500,
                status=status,  # type: ignore[arg-type]
                amount="1" * 300,
                provider_refund_ids=["re_" + "y" * 500] * 12,
                detail=LONG,
            )
        )


def test_evidence_modal() -> None:
    view = evidence_modal(12)
    assert validate_view(view) == []
    assert view["callback_id"] == "evidence.modal"
    assert Subject.decode(view["private_metadata"]) == Subject(dispute=12)
    kind, note, link, files = view["blocks"]
    assert [o["value"] for o in kind["element"]["options"]] == [k.value for k in EvidenceKind]
    assert [o["text"]["text"] for o in kind["element"]["options"]] == [
        k.label for k in EvidenceKind
    ]
    assert [b["optional"] for b in view["blocks"]] == [False, False, True, True]
    assert note["element"]["multiline"] is True
    assert link["element"]["type"] == "plain_text_input"
    assert files["element"] == {"type": "file_input", "max_files": 10, "action_id": "file"}
    for b in view["blocks"]:
        assert b["element"]["action_id"] == b["block_id"]


def test_the_policy_card_and_the_modal_offer_one_list_of_options() -> None:
    from blocks.policy import allowed_labels
    from domain.resolutions import Resolution

    # Whatever a policy may allow or recommend, the modal offers.
    assert set(REVIEW_OPTIONS) == set(Resolution)

    class Allowing:  # the one field allowed_labels reads
        allowed = [Resolution.CARRIER_CLAIM, Resolution.DENY, Resolution.PARTIAL_REFUND]

    modal_order = [
        o["text"]["text"]
        for o in block(modal(allowed=["carrier_claim", "deny", "partial_refund"]), "kind")[
            "element"
        ]["options"]
        if OUTSIDE_POLICY not in o["text"]["text"]
    ]
    assert allowed_labels(Allowing()) == modal_order == ["Partial refund", "Deny", "Carrier claim"]
