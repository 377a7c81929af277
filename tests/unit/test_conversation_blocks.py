"""The customer conversation in Slack: the composer, "Show message", and what the thread says of
deliveries, answers and expired offers stay within Block Kit's limits, keep outside text inert,
and show the customer's address masked in every channel message (in full only in the private
views of people who may see the customer)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.conversation import (
    HIDDEN_LINK,
    Composer,
    TemplateOption,
    block_name,
    composer_modal,
    customer_rated,
    delivery_message,
    message_modal,
    offer_accepted,
    offer_declined,
    offer_expired,
    proposer_told_declined,
    proposer_told_expired,
    queued_text,
    stars,
)
from blocks.disputes import customer_reply, evidence_card, summary
from blocks.ids import ActionId, Subject
from blocks.policy import policy_card
from blocks.proposal import ProposalCard, proposal_decided, proposal_message, proposer_told
from blocks.review_modal import review_actions, review_button
from bot.http import Refused, SlackShape
from disputes.customer_messages import CustomerMessage
from disputes.lifecycle import Status
from disputes.models import CaseFile, EvidenceItem
from domain.evidence import EvidenceKind
from handlers.conversation import Composed, read_composed
from policies.engine import evaluate
from policies.facts import facts_from_order
from policies.loader import LoadedPack
from sandbox.slack.blockkit import validate_view
from tests.support.disputes import NOW, make_dispute
from tests.unit.test_blocks import ORDERS, case_for, default_pack  # noqa: F401 (a fixture)
from tests.unit.test_hostile_text import (
    PERMALINK,
    check,
    check_view,
    name,
    outside,
    quoted,
    texts,
)

EMAIL = "maya.thompson@example.com"
MASKED = "m•••@example.com"
HOSTILE = "<!channel> *bold* <https://evil.example|x> & _it_ `code`"
OFFER_URL = "https://desk.example/c/tok.secret-signature"


def shown(value: Any) -> str:
    """Every text field of a message, view or blocks, as one string."""
    if hasattr(value, "blocks"):
        return value.text + "\n" + "\n".join(texts(value.blocks))
    return "\n".join(texts(value))


def composer(**changes: Any) -> Composer:
    base = Composer(
        number=7,
        to_name="Maya Thompson",
        to_address=EMAIL,
        choices=[
            TemplateOption("general:update", "An update on your request", "general"),
            TemplateOption("notice:damage-photos", "Notice: damage needs photos", "notice"),
        ],
        chosen="general:update",
        subject="Update on your request D-7",
        text="Hi Maya,\n\nWe are looking into it.",
    )
    return replace(base, **changes)


def message(**changes: Any) -> CustomerMessage:
    base = CustomerMessage(
        id=3,
        dispute_number=7,
        kind="message",
        template="general:update",
        subject="Update on your request [D-7]",
        body="Hi Maya,\n\nWe are looking into it.",
        to_address=EMAIL,
        to_name="Maya Thompson",
        status="sent",
        attempts=1,
        last_error=None,
        sent_at=NOW,
        created_by="U0AGENT",
        created_at=NOW,
        message_id="dd.7.abc@desk.example",
    )
    return replace(base, **changes)


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


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


# -- the composer ---------------------------------------------------------------------------


def test_the_composer_offers_the_templates_and_the_rendered_text_to_edit() -> None:
    view = check_view(composer_modal(composer()))
    assert view["callback_id"] == ActionId.SEND_MESSAGE.value == "customer.send"
    assert Subject.decode(view["private_metadata"]) == Subject(dispute=7)
    assert (view["title"]["text"], view["submit"]["text"]) == ("Message customer", "Send")
    found = inputs(view)
    template = found[block_name("template", "general:update")]
    assert template["dispatch_action"] is True
    select = template["element"]
    assert select["action_id"] == ActionId.MESSAGE_TEMPLATE.value == "customer.template"
    assert select["initial_option"]["value"] == "general:update"
    groups = [g["label"]["text"] for g in select["option_groups"]]
    assert groups == ["General", "Policy notices"]
    subject = found[block_name("subject", "general:update")]["element"]
    body = found[block_name("body", "general:update")]["element"]
    assert (subject["action_id"], body["action_id"]) == ("subject", "body")
    assert subject["initial_value"] == "Update on your request D-7"
    assert body["initial_value"] == "Hi Maya,\n\nWe are looking into it." and body["multiline"]


def test_another_template_names_the_inputs_anew_so_slack_replaces_what_they_hold() -> None:
    first = inputs(composer_modal(composer()))
    second = inputs(composer_modal(composer(chosen="notice:damage-photos")))
    assert not set(first) & set(second)
    assert {bid.split(".")[0] for bid in second} == {"template", "subject", "body"}


def test_a_template_lacking_a_fact_names_it_instead_of_a_text() -> None:
    missing = "This template needs resolution, which D-7 does not have yet: pick another."
    view = check_view(composer_modal(composer(missing=missing, subject="", text="")))
    assert [bid.split(".")[0] for bid in inputs(view)] == ["template"]
    assert "This template needs resolution, which D-7 does not have yet" in shown(view)


def test_the_composer_shows_the_whole_address_only_to_people_who_may_see_the_customer() -> None:
    private = shown(composer_modal(composer(in_full=True)))
    assert f"Maya Thompson &lt;{EMAIL}&gt;" in private
    masked = shown(composer_modal(composer(in_full=False)))
    assert MASKED in masked and EMAIL not in masked and "Maya Thompson" not in masked


def test_the_composer_stays_within_block_kit_limits_whatever_the_pack_holds() -> None:
    choices = [
        TemplateOption(f"notice:rule-{n}", f"Notice {n}: " + "a very long label " * 10, "notice")
        for n in range(150)
    ]
    choices.append(TemplateOption("notice:" + "x" * 200, "A key too long for Slack", "notice"))
    view = composer_modal(
        composer(
            choices=choices,
            chosen="notice:rule-3",
            to_name=HOSTILE * 10,
            subject=HOSTILE * 20,
            text=(HOSTILE + "\n") * 200,
        )
    )
    assert validate_view(view) == []
    select = inputs(view)[block_name("template", "notice:rule-3")]["element"]
    assert len(select["options"]) == 100
    assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in select["options"])
    body = inputs(view)[block_name("body", "notice:rule-3")]["element"]
    assert len(body["initial_value"]) <= 3000
    assert "its end was cut" in shown(view)
    assert len(view["blocks"]) <= 100


def test_a_pack_without_templates_says_so_and_offers_nothing_to_send() -> None:
    view = check_view(composer_modal(composer(choices=[], chosen=None)))
    assert "submit" not in view and not inputs(view)
    assert "no message templates" in shown(view)


@settings(max_examples=25)
@given(name, quoted, name)
def test_hostile_names_and_texts_stay_inert_in_the_composer(
    to_name: str, text: str, missing: str
) -> None:
    check_view(composer_modal(composer(to_name=to_name, text=text, in_full=True)))
    check_view(composer_modal(composer(missing=missing)))


def test_hostile_template_labels_are_plain_text() -> None:
    choices = [TemplateOption("general:update", HOSTILE, "general")]
    view = check_view(composer_modal(composer(choices=choices)))
    option = inputs(view)[block_name("template", "general:update")]["element"]["options"][0]
    assert option["text"] == {
        "type": "plain_text",
        "text": HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
        "emoji": True,
    }


def test_queued_answer_escapes_the_subject() -> None:
    text = queued_text(HOSTILE)
    assert text.startswith(":envelope: Queued for the customer: &lt;!channel&gt; *bold*")
    assert "<!channel>" not in text and "<https://evil" not in text


# -- what a submitted composer holds ----------------------------------------------------------


def submitted(
    key: str | None, subject: str | None, body: str | None, *, fact: bool = True
) -> Composed:
    values: dict[str, Any] = {
        block_name("template", key): {
            "customer.template": {"selected_option": {"value": key} if key else None}
        }
    }
    if fact:
        values[block_name("subject", key)] = {"subject": {"value": subject}}
        values[block_name("body", key)] = {"body": {"value": body}}
    return read_composed({"state": {"values": values}})


def test_a_submitted_composer_is_read_by_its_template() -> None:
    entered = submitted("general:update", " Hello \u200b", "Hi Maya\n")
    assert (entered.key, entered.subject, entered.text, entered.errors) == (
        "general:update",
        "Hello",
        "Hi Maya",
        {},
    )


def test_a_submitted_composer_without_a_template_subject_or_text_is_refused_by_field() -> None:
    assert submitted(None, "s", "t").errors == {block_name("template", None): "Pick a template."}
    refused = submitted("general:update", "  ", "")
    assert set(refused.errors) == {
        block_name("subject", "general:update"),
        block_name("body", "general:update"),
    }


def test_a_composer_whose_template_lacks_a_fact_is_refused_on_the_template() -> None:
    refused = submitted("notice:damage-photos", None, None, fact=False)
    assert list(refused.errors) == [block_name("template", "notice:damage-photos")]
    assert "cannot be written" in refused.errors[block_name("template", "notice:damage-photos")]


# -- the thread: a message to the customer ----------------------------------------------------


@pytest.mark.parametrize("news", ["sent", "retrying", "failed"])
def test_a_message_in_the_thread_shows_the_address_masked(news: str) -> None:
    failing = message(last_error="550 mailbox unavailable", sent_at=None)
    shown_message = check(delivery_message(message() if news == "sent" else failing, news))
    everything = json.dumps(shown_message.blocks, ensure_ascii=False) + shown_message.text
    assert MASKED in everything and EMAIL not in everything and "maya.thompson" not in everything
    button = shown_message.blocks[-1]["elements"][0]
    assert button["action_id"] == ActionId.SHOW_MESSAGE.value == "customer.show"
    assert Subject.decode(button["value"]) == Subject(dispute=7, message=3)


def test_what_the_thread_says_as_a_message_goes_out() -> None:
    sent = shown(delivery_message(message(kind="offer"), "sent"))
    assert ":envelope: *Sent to the customer:* Update on your request [D-7]" in sent
    assert "To m•••@example.com · offer · sent <!date^" in sent and "by <@U0AGENT>" in sent
    failing = message(last_error="connection refused", sent_at=None)
    retrying = shown(delivery_message(failing, "retrying"))
    assert "*Not delivered to the customer yet:* connection refused. Retrying." in retrying
    failed = shown(delivery_message(failing, "failed"))
    assert "*Could not deliver* the message to the customer (connection refused)" in failed
    assert "check CUSTOMER_CHANNEL" in failed
    system = shown(delivery_message(message(kind="reminder", created_by="conversation"), "sent"))
    assert "reminder of the offer" in system and "by " not in system


@settings(max_examples=25)
@given(name, name, st.sampled_from(["sent", "retrying", "failed"]))
def test_hostile_subjects_and_reasons_stay_inert_in_the_thread(
    subject: str, reason: str, news: str
) -> None:
    check(delivery_message(message(subject=subject, last_error=reason), news))


def test_show_message_gives_the_whole_text_and_address_without_the_customers_links() -> None:
    body = f"Hi Maya,\n\nAccept here: {OFFER_URL}\n\nThe team"
    view = check_view(
        message_modal(message(kind="offer", body=body, links=(OFFER_URL,)), in_full=True)
    )
    everything = shown(view)
    assert f"Maya Thompson &lt;{EMAIL}&gt;" in everything
    assert OFFER_URL not in json.dumps(view) and HIDDEN_LINK in everything
    assert "\n> Hi Maya," in everything  # the text is quoted: never read as the app's words


def test_a_long_message_fits_a_modal_and_says_when_its_end_is_left_out() -> None:
    long = message(body=("&<>" * 600 + "\n") * 50 + "x" * 20_000)
    view = message_modal(long, in_full=True)
    assert validate_view(view) == [] and len(view["blocks"]) <= 100
    assert "is not shown here" in shown(view)
    short = message_modal(message(body="a\n" * 50), in_full=True)
    assert "is not shown here" not in shown(short)


@settings(max_examples=25)
@given(name, quoted, name)
def test_hostile_messages_stay_inert_when_shown(subject: str, body: str, to_name: str) -> None:
    check_view(message_modal(message(subject=subject, body=body, to_name=to_name), in_full=True))


# -- the thread: answers and expiry ----------------------------------------------------------


def test_what_the_thread_says_of_the_customers_answers() -> None:
    accepted = shown(offer_accepted("D-7", "Store credit", "20.00 USD"))
    assert "The customer accepted the offer:* Store credit 20.00 USD. Carrying it out." in accepted
    declined = shown(offer_declined("D-7", "Too little"))
    assert "*The customer declined the offer*: “Too little”. Back to review." in declined
    assert "declined the offer*. Back to review." in shown(offer_declined("D-7", None))
    rated = shown(customer_rated("D-7", 4, "Quick, thanks"))
    assert "*The customer rated the handling* ★★★★☆ 4/5: “Quick, thanks”" in rated
    assert shown(customer_rated("D-7", 5, None)).endswith("rated the handling* ★★★★★ 5/5")
    expired = shown(offer_expired("D-7"))
    assert "The offer expired without an answer:* the dispute waits for a person" in expired
    assert stars(1) == "★☆☆☆☆ 1/5"


def test_hostile_reasons_and_comments_are_escaped() -> None:
    for message_ in (
        offer_declined("D-7", HOSTILE),
        customer_rated("D-7", 2, HOSTILE),
        proposer_told_declined(card(), HOSTILE, PERMALINK),
    ):
        check(message_)
        assert "&lt;!channel&gt;" in shown(message_)


@settings(max_examples=25)
@given(outside(), outside(), st.integers(-3, 9))
def test_multiline_hostile_answers_stay_quoted(reason: str, comment: str, rating: int) -> None:
    check(offer_declined("D-7", reason))
    check(customer_rated("D-7", rating, comment))
    check(proposer_told_declined(card(kind_label=comment), reason, PERMALINK))
    check(proposer_told_expired(card(amount=comment), PERMALINK))


def test_the_proposer_is_told_of_a_declined_or_expired_offer() -> None:
    declined = shown(proposer_told_declined(card(), "Too little", PERMALINK))
    assert "declined the offer of your Proposal 1 for D-7 (Store credit 20.00 USD)" in declined
    assert "“Too little”. D-7 is back in review." in declined and PERMALINK in declined
    quoted_reason = shown(proposer_told_declined(card(), "Too little.\nA refund.", PERMALINK))
    assert "back in review. <https://acme.slack.com" in quoted_reason
    assert quoted_reason.endswith("> Too little.\n> A refund.")  # nothing after the quote
    expired = shown(proposer_told_expired(card(), None))
    assert "did not answer the offer of your Proposal 1 for D-7" in expired


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


# -- the button, where the thread and /dispute show offer it ---------------------------------------


def test_message_customer_sits_with_the_review_buttons_when_messaging_is_on() -> None:
    on = [e["action_id"] for e in review_button(7, messaging=True)["elements"]]
    assert on == ["review.start", "evidence.add", "customer.compose"]
    off = [e["action_id"] for e in review_button(7)["elements"]]
    assert "customer.compose" not in off
    closed = CaseFile(make_dispute(status=Status.RESOLVED))
    assert "customer.compose" not in json.dumps(review_actions(closed, messaging=True))


def test_the_policy_card_and_show_offer_it_only_when_messaging_is_on(
    default_pack: LoadedPack,  # noqa: F811 (the fixture imported above)
) -> None:
    case = case_for(ORDERS["ORD-1001"])
    facts = facts_from_order(
        ORDERS["ORD-1001"],
        reason=case.dispute.reason,
        claim="",
        disputed_amount_minor=1000,
        evidence_present={item.kind for item in case.evidence},
        as_of=NOW,
    )
    decision = evaluate(default_pack, facts, as_of=NOW)
    assert "customer.compose" in json.dumps(
        check(policy_card(case, decision, messaging=True)).blocks
    )
    assert "customer.compose" not in json.dumps(policy_card(case, decision).blocks)
    assert "customer.compose" in json.dumps(check(summary(case, None, messaging=True)).blocks)
    assert "customer.compose" not in json.dumps(summary(case, None).blocks)


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


# -- the request guard knows the new buttons and the composer ------------------------------------


def interaction(action: dict[str, Any], view: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "trigger_id": "1.2",
        "actions": [action],
    }
    if view is not None:
        body["view"] = view
    return body


def test_the_guard_checks_the_subjects_of_the_new_buttons_and_the_composer() -> None:
    guard = SlackShape("http://127.0.0.1:4390/api/")
    show = {"action_id": "customer.show", "value": Subject(dispute=7, message=3).encode()}
    guard.check(interaction(show))
    pick = {"action_id": "customer.template", "selected_option": {"value": "general:update"}}
    guard.check(interaction(pick, {"id": "V1", "private_metadata": '{"dispute":7}'}))
    for bad in (
        interaction({"action_id": "customer.compose", "value": "{}"}),
        interaction({"action_id": "customer.show", "value": '{"dispute":7,"message":4294967296}'}),
        interaction(pick, {"id": "V1", "private_metadata": "{}"}),
        interaction(pick),
    ):
        with pytest.raises(Refused) as refused:
            guard.check(bad)
        assert "not written by this app" in refused.value.reason


def test_a_subject_may_name_a_message() -> None:
    assert Subject.decode('{"dispute":7,"message":3}') == Subject(dispute=7, message=3)
    assert Subject(dispute=7).encode() == '{"dispute":7}'
