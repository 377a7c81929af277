"""Every message the app sends passes the sandbox's Block Kit validation, even at the limits."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest

from blocks.disputes import already_open, evidence_card, opened, parent_message, summary
from blocks.help import help_message
from blocks.home import HomeContent, home_view
from blocks.text import Message, escape
from connectors.orders.evidence_sources import default_evidence_sources
from connectors.orders.factory import default_fixtures_path
from connectors.orders.fixtures import load_fixture_orders
from disputes.evidence_gathering import checklist, required_kinds
from disputes.lifecycle import Status
from disputes.models import CaseFile, Dispute, EvidenceItem, UnavailableSource
from domain.evidence import EvidenceKind
from domain.orders import Order
from domain.reasons import Reason
from sandbox.slack.blockkit import validate_message, validate_view
from tests.support.disputes import NOW, make_dispute
from tests.support.queues import item, page_of

ORDERS = load_fixture_orders(default_fixtures_path())


def dispute(**changes: object) -> Dispute:
    return make_dispute(**{"customer_name": "Maya <Thompson> & co", **changes})


def case_for(order: Order, **changes: object) -> CaseFile:
    async def drafts() -> list:
        found = []
        for source in default_evidence_sources(clock=lambda: NOW):
            found += await source.collect(order)
        return found

    evidence = [
        EvidenceItem(d.kind, d.source, d.summary, d.payload, d.url, NOW, "intake")
        for d in asyncio.run(drafts())
    ]
    reason = order.return_request.reason if order.return_request else Reason.OTHER
    required = required_kinds(reason, return_received=True)
    return CaseFile(
        dispute=dispute(order_id=order.order_id, reason=reason, **changes),
        evidence=evidence,
        checklist=checklist({item.kind for item in evidence}, required),
    )


def assert_valid(message: Message) -> None:
    assert validate_message(message.text, message.blocks) == []


@pytest.mark.parametrize("order_id", sorted(ORDERS))
def test_evidence_card_for_every_demo_order_is_valid(order_id: str) -> None:
    card = evidence_card(case_for(ORDERS[order_id]))
    assert_valid(card)
    assert card.blocks[0]["type"] == "header"


def test_evidence_card_shows_each_kind_and_the_checklist() -> None:
    card = evidence_card(case_for(ORDERS["ORD-1001"]))
    text = json.dumps(card.blocks, ensure_ascii=False)
    for kind in EvidenceKind:
        assert f"{kind.label}" in text
    assert "Photo 1" in text and "Original decision: *denied*" in text


def test_missing_required_and_unavailable_sources_are_shown() -> None:
    base = case_for(ORDERS["ORD-1009"])  # no return request: return evidence is missing
    case = replace(
        base,
        unavailable=[
            UnavailableSource(
                "carrier-api", (EvidenceKind.RETURN_TRACKING_INFORMATION,), "timed out"
            )
        ],
    )
    card = evidence_card(case)
    text = json.dumps(card.blocks)
    assert "required, missing" in text
    assert "carrier-api unavailable (timed out)" in text
    assert_valid(card)


def test_user_text_is_escaped_so_it_cannot_mention_or_link() -> None:
    message = parent_message(dispute(claim="<!channel> see <https://evil.example|this>"))
    text = json.dumps(message.blocks)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "Maya &lt;Thompson&gt; &amp; co" in text
    assert escape("a<b>&") == "a&lt;b&gt;&amp;"


@pytest.mark.parametrize("status", list(Status))
def test_parent_message_title_for_every_status(status: Status) -> None:
    message = parent_message(dispute(status=status))
    assert message.text == f"D-7 · ORD-1001 · Damaged · {status.label}"
    assert_valid(message)


def test_long_claims_and_names_stay_within_limits() -> None:
    huge = dispute(claim="é" * 5000, customer_name="N" * 400, order_id="O" * 64)
    assert_valid(parent_message(huge))
    assert_valid(summary(CaseFile(huge), "http://example.com/archives/C/p1"))


def test_replies_and_help_are_valid() -> None:
    d = dispute()
    for message in (
        opened(d, "http://x.example/p1"),
        opened(d, None),
        already_open(d, "http://x.example/p1"),
        help_message(),
        summary(CaseFile(d), None),
    ):
        assert_valid(message)


def home(mine: list[Dispute], **content: Any) -> dict[str, Any]:
    """The tab of someone holding `mine`, with `content` (failed, attention)."""
    empty = page_of([])
    return home_view(HomeContent(page_of([item(d) for d in mine]), empty, empty, NOW, **content))


def test_home_view_is_valid_empty_and_full() -> None:
    assert validate_view(home([])) == []
    many = [dispute(number=n) for n in range(1, 80)]
    view = home(many)
    assert validate_view(view) == []
    assert len(view["blocks"]) <= 100


def test_home_view_names_failed_refunds_before_the_list() -> None:
    waiting = [dispute(number=n) for n in range(4, 16)]
    view = home([dispute(number=3)], failed=(12, waiting))
    assert validate_view(view) == []
    attention = view["blocks"][2]["text"]["text"]
    assert attention.startswith(":x: *12 refunds failed*")
    assert "D-4, D-5" in attention and "D-13 and 2 more" in attention
    assert "D-14" not in attention
    one = home([], failed=(1, waiting[:1]))["blocks"][2]["text"]["text"]
    assert "*1 refund failed*" in one and "D-4." in one
    assert "failed" not in json.dumps(home([dispute(number=3)]))


@pytest.fixture(scope="module")
def default_pack():  # type: ignore[no-untyped-def]
    from bot.settings import default_policy_pack
    from policies.loader import load_pack

    return load_pack(default_policy_pack())


@pytest.mark.parametrize("order_id", sorted(ORDERS))
def test_policy_card_and_why_modal_for_every_demo_order_are_valid(
    order_id: str, default_pack
) -> None:  # type: ignore[no-untyped-def]
    from blocks.policy import policy_card, why_modal
    from policies.engine import evaluate
    from policies.facts import facts_from_order

    order = ORDERS[order_id]
    case = case_for(order)
    facts = facts_from_order(
        order,
        reason=case.dispute.reason,
        claim="",
        disputed_amount_minor=1000,
        evidence_present={item.kind for item in case.evidence},
        as_of=NOW,
    )
    decision = evaluate(default_pack, facts, as_of=NOW)
    card = policy_card(case, decision)
    assert_valid(card)
    assert card.blocks[2]["accessory"]["action_id"] == "policy.why"
    modal = why_modal(case, decision)
    assert validate_view(modal) == []
    assert len(modal["blocks"]) <= 100


def test_search_results_are_valid_and_capped(default_pack) -> None:  # type: ignore[no-untyped-def]
    from blocks.policy import search_results

    rules = [compiled.rule for compiled in default_pack.rules]
    message = search_results("everything", rules)
    assert_valid(message)
    assert len(message.blocks) <= 12
    assert_valid(search_results("nothing", []))


def test_opening_says_which_order_id_was_used_when_it_is_not_the_one_typed() -> None:
    d = dispute(order_id="ORD-1002")
    message = opened(d, None, "ord-1002")
    assert message.text == (
        f"Opened {d.ref} for ORD-1002 (as the order system writes it; you typed ord-1002)."
    )
    assert "you typed" not in opened(d, None, "ORD-1002").text
    assert "you typed ord-1002" in already_open(d, None, "ord-1002").text


def closed_case(order_id: str = "ORD-1001") -> CaseFile:
    from disputes.models import Outcome
    from domain.resolutions import Resolution

    case = case_for(ORDERS[order_id], status=Status.RESOLVED)
    outcome = Outcome(Resolution.PARTIAL_REFUND, 2, 4000, "USD", "U0SUPER", NOW, 4000)
    return replace(case, outcome=outcome)


def test_a_resolved_dispute_shows_how_it_ended_instead_of_its_review_buttons(
    default_pack,
) -> None:  # type: ignore[no-untyped-def]
    from blocks.policy import policy_card
    from policies.engine import evaluate
    from policies.facts import facts_from_order

    case = closed_case()
    facts = facts_from_order(
        ORDERS["ORD-1001"],
        reason=case.dispute.reason,
        claim="",
        disputed_amount_minor=1000,
        evidence_present={item.kind for item in case.evidence},
        as_of=NOW,
    )
    card = policy_card(case, evaluate(default_pack, facts, as_of=NOW))
    assert_valid(card)
    shown = json.dumps(card.blocks)
    assert "review.start" not in shown and "evidence.add" not in shown
    assert "*Resolved:* Partial refund 40.00 USD, approved by <@U0SUPER>" in shown
    assert "refunded 40.00 USD" in shown


def test_show_of_a_resolved_dispute_gives_the_outcome() -> None:
    message = summary(closed_case(), None)
    assert_valid(message)
    text = message.blocks[0]["text"]["text"]
    assert "*Resolved:* Partial refund 40.00 USD, approved by <@U0SUPER> <!date^" in text
    unresolved = summary(case_for(ORDERS["ORD-1001"]), None).blocks[0]["text"]["text"]
    assert "approved by" not in unresolved


def test_a_dispute_closed_without_an_approval_says_so() -> None:
    from blocks.disputes import outcome_text

    case = case_for(ORDERS["ORD-1001"], status=Status.WITHDRAWN)
    assert outcome_text(case) == "*Withdrawn* · nothing was approved"
