"""Hostile text stays text: whatever a customer, an order system, a file name or a person
writes reaches Slack escaped, quoted line by line, clipped whole and within Slack's limits, and
only the app's own mentions, dates and links are live."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.disputes import (
    already_open,
    customer_reply,
    evidence_card,
    opened,
    parent_message,
    summary,
    thread_not_posted,
)
from blocks.evidence_details import evidence_sections
from blocks.evidence_modal import evidence_modal
from blocks.help import help_message
from blocks.home import HomeContent, home_view
from blocks.kit import plain, section
from blocks.ledger import earlier_blocks, ledger_blocks
from blocks.policy import policy_card, search_results, why_modal
from blocks.proposal import (
    ProposalCard,
    proposal_decided,
    proposal_message,
    proposer_told,
    request_changes_modal,
    supervisor_ping,
    supervisor_ping_handled,
)
from blocks.queue import queue_message, team_message
from blocks.refund_messages import refund_alert, refund_outcome
from blocks.review_modal import resolution_modal
from blocks.text import Message, clip_escaped, escape, inline, labelled, link, quote
from disputes.evidence_gathering import checklist
from disputes.lifecycle import Status
from disputes.models import (
    CaseFile,
    Dispute,
    EarlierDispute,
    EvidenceItem,
    RuleTrace,
    UnavailableSource,
)
from disputes.payments import OurRequest, PaymentLedger, ProviderRefund
from disputes.queues import StuckCount, Team, Workload
from domain.evidence import EvidenceKind
from domain.reasons import Reason
from domain.resolutions import Resolution
from policies.conditions import LeafCheck
from policies.engine import MatchedRule
from sandbox.slack.blockkit import validate_message, validate_view
from tests.support.disputes import NOW, make_dispute
from tests.support.queues import item as queue_item
from tests.support.queues import page_of, waiting

APP_USERS = ("U0MANAGER1", "U0SUPER", "U0AGENT")
PERMALINK = "https://acme.slack.com/archives/C0DISPUTES/p1000100"

QUOTED = "\ue000"  # starts each line of outside text that must be shown as a quote
OUTSIDE = "\ue001"  # starts each line of any other outside text
BREAKS = ("\n", "\r\n", "\r", "\u2028", "\x85", "\n\n")
LINE_BREAKING = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
HOSTILE = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<#C123>",
    "<!subteam^S1>",
    "<http://evil.example|click>",
    "<https://evil.example>",
    "<mailto:boss@evil.example|mail>",
    "<!date^1700000000^{date_short}|x>",
    "&",
    "&amp;",
    "&lt;",
    "&am",
    ">",
    "> ",
    "<",
    "|",
    "*",
    "`",
    "_",
    "javascript:alert(1)",
    "é",
    "👩\u200d💻",
)

words = st.text(
    alphabet=st.characters(
        exclude_categories=("Cs",), exclude_characters=LINE_BREAKING + QUOTED + OUTSIDE + "%"
    ),
    max_size=12,
)
fragments = st.one_of(st.sampled_from(HOSTILE), words)
short_line = st.lists(fragments, max_size=6).map("".join)
long_line = st.builds(
    lambda f, n: (f * (n // len(f) + 1))[:n], st.sampled_from(HOSTILE), st.integers(2000, 6000)
)
one_line = st.one_of(short_line, short_line, long_line)


def outside(mark: str = OUTSIDE, *, min_lines: int = 1, max_lines: int = 4) -> Any:
    """Text from outside: each of its lines starts with `mark`, so the tests can tell where
    it lands; the lines are joined by any kind of line break."""
    return st.builds(
        lambda lines, brk: brk.join(mark + line for line in lines),
        st.lists(one_line, min_size=min_lines, max_size=max_lines),
        st.sampled_from(BREAKS),
    )


name = outside(max_lines=2)
quoted = outside(QUOTED)
GOOD_URLS = (
    "https://photos.example/1.jpg",
    "http://cdn.example/a?x=1&y=2",
    "https://x.example/a|b",
    "https://x.example/a>b<c",
    "HTTPS://UPPER.example/x",
    PERMALINK,
)
BAD_URLS = (
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "slack://open?team=T1",
    "/relative/path",
    "//proto-relative.example/x",
    "http://",
    "https://exa mple.example/x",
    "ftp://files.example/x",
    "mailto:a@evil.example",
    "<!channel>",
    "http://[::1",
    "https://evil.example/\n<!channel>",
    "https://long.example/" + "a" * 3000,
)
urls = st.one_of(
    st.sampled_from(GOOD_URLS + BAD_URLS),
    words.map(lambda w: "https://h.example/" + w),
)

# The app's own tokens: mentions of the people it was given, its dates, and links.
_MENTION = re.compile("<@(?:" + "|".join(APP_USERS) + ")>")
_DATE = re.compile(
    r"<!date\^-?\d+\^\{date_short\}(?: \{time\})?\|\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2} UTC)?>"
)
_LINK = re.compile(r"<(https?://[^\s<>|]+)\|[^<>]*>", re.IGNORECASE)


def texts(value: Any) -> Iterator[str]:
    """Every Slack text field in blocks or a view: mrkdwn and plain_text objects."""
    if isinstance(value, dict):
        if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str):
            yield value["text"]
        for child in value.values():
            yield from texts(child)
    elif isinstance(value, list):
        for child in value:
            yield from texts(child)


def _decoded(url: str) -> str:
    url = html.unescape(url)
    for code, char in (("%7C", "|"), ("%3C", "<"), ("%3E", ">")):
        url = url.replace(code, char)
    return url


def assert_inert(text: str, links: set[str]) -> None:
    """(a) The only `<…>` in `text` are the app's own: its mentions, dates, and links to the
    http(s) URLs it was given; (d) every `&` starts a whole entity."""
    for match in _LINK.finditer(text):
        assert _decoded(match[1]) in links, f"a link not given to the app: {match[0]!r}"
    rest = _LINK.sub("", _DATE.sub("", _MENTION.sub("", text)))
    assert "<" not in rest, f"a raw control sequence: {text!r}"
    for match in re.finditer("&", text):
        assert text.startswith(("&amp;", "&lt;", "&gt;"), match.start()), f"a cut entity: {text!r}"


def assert_lines(text: str, *, in_blocks: bool) -> None:
    """(b) Outside text never starts a line, where it would read as the app's own words; in
    blocks, every line of text shown as a quote starts with `> `."""
    for line in text.splitlines():
        assert not line.lstrip().startswith((QUOTED, OUTSIDE)), f"unquoted line: {line!r}"
        if in_blocks and QUOTED in line:
            assert line.startswith("> "), f"a quoted text's line outside the quote: {line!r}"


def check_blocks(blocks: list[dict[str, Any]], links: set[str] = frozenset()) -> None:
    for text in texts(blocks):
        assert_inert(text, {PERMALINK, *links})
        assert_lines(text, in_blocks=True)


def check(message: Message, links: set[str] = frozenset()) -> Message:
    """(c) A valid message within Slack's limits, its fallback and blocks inert."""
    assert validate_message(message.text, message.blocks) == []
    assert message.text
    assert_inert(message.text, {PERMALINK, *links})
    assert_lines(message.text, in_blocks=False)
    check_blocks(message.blocks, links)
    return message


def check_view(view: dict[str, Any], links: set[str] = frozenset()) -> dict[str, Any]:
    assert validate_view(view) == []
    check_blocks([view], links)
    return view


def hostile_dispute(**changes: Any) -> Dispute:
    return make_dispute(**{"owner_id": "U0AGENT", **changes})


disputes = st.builds(
    hostile_dispute,
    order_id=name,
    claim=quoted,
    customer_id=name,
    customer_name=st.one_of(st.none(), name),
    priority=name,
    status=st.sampled_from(list(Status)),
)
when = st.one_of(st.just(NOW.isoformat()), name)


@st.composite
def payloads(draw: Any, kind: EvidenceKind) -> dict[str, Any]:
    if kind is EvidenceKind.ORDER_DETAILS:
        item = {
            field: draw(name)
            for field in ("name", "sku", "quantity", "line_total", "original_price")
        }
        return {
            "items": [item | {"final_sale": True, "discount_percent": draw(name)}],
            "customer": {"name": draw(name), "tier": draw(name), "prior_returns_90d": draw(name)},
        }
    if kind is EvidenceKind.PROOF_OF_FULFILLMENT:
        event = {"at": draw(when), "status": draw(name), "location": draw(name)}
        return {"recent_events": [event, event]}
    if kind is EvidenceKind.RETURN_REQUEST:
        decision = {"outcome": draw(name), "amount": draw(name), "note": draw(name)}
        return {"customer_note": draw(quoted), "received_at": NOW.isoformat(), "decision": decision}
    if kind is EvidenceKind.CONDITION_REPORT:
        return {"notes": draw(name)}
    if kind is EvidenceKind.PROOF_OF_DAMAGE:
        return {"photos": draw(st.lists(urls, max_size=12))}
    if kind is EvidenceKind.CUSTOMER_COMMUNICATION:
        last = {
            "direction": draw(name),
            "from": draw(name),
            "at": draw(when),
            "excerpt": draw(quoted),
            "truncated": draw(st.booleans()),
        }
        return {"last": last}
    return {"name": draw(name), "note": draw(name), "link": draw(st.one_of(st.none(), urls))}


@st.composite
def items(draw: Any) -> EvidenceItem:
    kind = draw(st.sampled_from(list(EvidenceKind)))
    url = draw(st.one_of(st.none(), urls))
    return EvidenceItem(kind, draw(name), draw(name), draw(payloads(kind)), url, NOW, "intake")


def item_links(evidence: list[EvidenceItem]) -> set[str]:
    found = set()
    for item in evidence:
        candidates = [item.url, item.payload.get("link"), *item.payload.get("photos", [])]
        found |= {str(u).strip() for u in candidates if u}
    return found


@st.composite
def ledgers(draw: Any) -> PaymentLedger:
    refunds = tuple(
        ProviderRefund(
            draw(name), 500, "USD", status, NOW, None, draw(st.sampled_from([None, "D-3"]))
        )
        for status in draw(
            st.lists(st.sampled_from(["succeeded", "pending", "failed"]), max_size=12)
        )
    )
    request = OurRequest(1, 7, 300, "in_flight", (), "rr_1_x")
    return PaymentLedger(
        payment_reference=draw(name),
        currency="USD",
        paid_minor=12900,
        order_claim_minor=draw(st.sampled_from([0, 5000, 20000])),
        provider_refunds=draw(st.sampled_from([None, refunds])),
        provider_read_at=draw(st.sampled_from([None, NOW])),
        provider_error=draw(st.one_of(st.none(), name)),
        requests=(request,),
    )


@st.composite
def cases(draw: Any, *, max_items: int = 8) -> CaseFile:
    evidence = draw(st.lists(items(), max_size=max_items))
    earlier = [EarlierDispute(3, Status.RESOLVED, Resolution.PARTIAL_REFUND, 2500, "USD")]
    return CaseFile(
        dispute=draw(disputes),
        evidence=evidence,
        checklist=checklist({i.kind for i in evidence}, {EvidenceKind.ORDER_DETAILS}),
        unavailable=[
            UnavailableSource(draw(name), (EvidenceKind.RETURN_TRACKING_INFORMATION,), draw(name))
            for _ in range(draw(st.integers(0, 7)))
        ],
        ledger=draw(st.one_of(st.none(), ledgers())),
        earlier=earlier,
    )


SETTINGS = settings(max_examples=25)


@SETTINGS
@given(disputes)
def test_parent_message(dispute: Dispute) -> None:
    check(parent_message(dispute))


@SETTINGS
@given(cases())
def test_evidence_card(case: CaseFile) -> None:
    card = check(evidence_card(case), item_links(case.evidence))
    assert len(card.blocks) <= 50


many_items = st.lists(
    st.builds(
        EvidenceItem,
        kind=st.sampled_from(list(EvidenceKind)),
        source=st.just("x"),
        summary=name,
        payload=st.just({}),
        url=st.none(),
        captured_at=st.just(NOW),
        added_by=st.just("intake"),
    ),
    min_size=41,
    max_size=70,
)


@settings(max_examples=10)
@given(cases(max_items=0), many_items)
def test_evidence_card_with_many_items_says_how_many_are_left_out(
    case: CaseFile, evidence: list[EvidenceItem]
) -> None:
    card = check(evidence_card(replace(case, evidence=evidence)))
    assert len(card.blocks) <= 50
    after = next(n for n, b in enumerate(card.blocks) if b["type"] in ("context", "divider"))
    shown = after - 1  # the evidence sections, after the header
    more = [t for t in texts(card.blocks[after]) if "more: `/dispute show D-7` lists them" in t]
    left_out = int(re.search(r"and (\d+) more", more[0])[1]) if more else 0  # type: ignore[index]
    assert shown + left_out == len(evidence)
    assert bool(more) == (shown < len(evidence))


@SETTINGS
@given(cases(), st.one_of(st.none(), st.just(PERMALINK)))
def test_summary_already_open_opened_thread_not_posted(
    case: CaseFile, permalink: str | None
) -> None:
    check(summary(case, permalink))
    check(already_open(case.dispute, permalink))
    check(opened(case.dispute, permalink))
    check(thread_not_posted(case.dispute, case.dispute.priority))


@SETTINGS
@given(name, quoted)
def test_customer_reply(sender: str, body: str) -> None:
    check(customer_reply(sender, body))


@pytest.fixture(scope="module")
def base_decision():  # type: ignore[no-untyped-def]
    from bot.settings import default_policy_pack
    from connectors.orders.factory import default_fixtures_path
    from connectors.orders.fixtures import load_fixture_orders
    from policies.engine import evaluate
    from policies.facts import facts_from_order
    from policies.loader import load_pack

    pack = load_pack(default_policy_pack())
    order = load_fixture_orders(default_fixtures_path())["ORD-1001"]
    facts = facts_from_order(
        order,
        reason=Reason.DAMAGED,
        claim="",
        disputed_amount_minor=1000,
        evidence_present=set(EvidenceKind),
        as_of=NOW,
    )
    return evaluate(pack, facts, as_of=NOW), [compiled.rule for compiled in pack.rules]


@SETTINGS
@given(cases(max_items=3), st.lists(name, min_size=6, max_size=6))
def test_policy_card_and_why_modal(base_decision, case: CaseFile, texts_: list[str]) -> None:  # type: ignore[no-untyped-def]
    decision, _ = base_decision
    a, b, c, d, e, f = texts_
    hostile = replace(
        decision,
        matched=[MatchedRule(a, b, c, d, 10), *decision.matched],
        trace=[RuleTrace(a, True, [LeafCheck(b, c, d, e, f, False, True)]), *decision.trace],
        pack_name=e,
        pack_version=f,
        pack_hash=a,
    )
    check(policy_card(case, hostile))
    check_view(why_modal(case, hostile))


@SETTINGS
@given(name, st.lists(name, min_size=3, max_size=3), st.booleans())
def test_policy_search_results(base_decision, words_: str, texts_: list[str], found: bool) -> None:  # type: ignore[no-untyped-def]
    _, rules = base_decision
    citation, title, text = texts_
    hostile = [rules[0].model_copy(update={"citation": citation, "title": title}), *rules[1:]]
    shown = search_results(words_, hostile if found else [])
    check(shown)
    # Rule texts are the team's own, shown as they are written; still only escaped.
    written = search_results(words_, [rules[0].model_copy(update={"text": text})])
    assert validate_message(written.text, written.blocks) == []
    for field in texts(written.blocks):
        assert_inert(field, set())


cards = st.builds(
    ProposalCard,
    ref=st.just("D-12"),  # the app's own, like every D-n
    number=st.just(12),
    proposal_id=st.just(4),
    kind_label=name,
    amount=st.one_of(st.none(), name),
    note=st.one_of(st.just(""), quoted),
    proposer=st.sampled_from(APP_USERS),
    outside_policy=st.booleans(),
    needs_supervisor=st.booleans(),
    justification=st.one_of(st.none(), name),
    proposal_number=st.integers(1, 99),
    customer=st.one_of(st.none(), name),
    override_reason=st.one_of(st.none(), name),
    supervisor_cause=st.one_of(st.none(), name),
)


@SETTINGS
@given(cards, name)
def test_proposal_message_and_decided(card: ProposalCard, reason: str) -> None:
    message = check(proposal_message(card))
    for button in (el for b in message.blocks if b["type"] == "actions" for el in b["elements"]):
        assert len(button["text"]["text"]) <= 75
    check(proposal_decided(card, decision="approved", decided_by="U0SUPER"))
    check(proposal_decided(card, decision="changes_requested", decided_by="U0SUPER", reason=reason))


@SETTINGS
@given(name, st.one_of(st.none(), st.just(PERMALINK)))
def test_supervisor_ping(reason: str, permalink: str | None) -> None:
    card = ProposalCard("D-12", 12, 4, "<!here>", "1.00", "", "U0MANAGER1", False, True, None)
    check(supervisor_ping(card, permalink, reason))
    check(
        supervisor_ping_handled(
            card, permalink, reason, decision="approved", decided_by="U0SUPER", decided_at="now"
        )
    )


@SETTINGS
@given(cards, st.one_of(st.none(), name), st.one_of(st.none(), st.just(PERMALINK)))
def test_proposer_told_and_request_changes_modal(
    card: ProposalCard, reason: str | None, permalink: str | None
) -> None:
    for decision in ("approved", "changes_requested"):
        check(
            proposer_told(
                card, decision=decision, decided_by="U0SUPER", reason=reason, permalink=permalink
            )
        )
    check_view(request_changes_modal(card))


@SETTINGS
@given(
    name,
    name,
    st.sampled_from(["succeeded", "duplicate", "failed", "unknown", "needs_attention", "found"]),
    st.one_of(st.none(), name),
    st.lists(name, max_size=12),
)
def test_refund_outcome_and_alert(
    amount: str, request_id: str, status: str, detail: str | None, ids: list[str]
) -> None:
    check(
        refund_outcome(
            ref="D-12",
            number=12,
            request_id=request_id,
            status=status,  # type: ignore[arg-type]
            amount=amount,
            provider_refund_ids=ids,
            detail=detail,
        )
    )
    check(refund_alert("D-12", amount, status, detail, PERMALINK))
    check(refund_alert("D-12", amount, status, detail, None))


@SETTINGS
@given(
    st.lists(name, min_size=6, max_size=6),
    st.lists(name, max_size=30),
    st.dictionaries(
        st.sampled_from(["note", "justification", "override_reason", "amount", "kind"]), name
    ),
)
def test_resolution_modal_with_hostile_refill(
    texts_: list[str], missing: list[str], values: dict[str, str]
) -> None:
    ref, paid, refundable, recommended, money_note, currency = texts_
    view = check_view(
        resolution_modal(
            number=12,
            ref=ref,
            currency=currency,
            paid=paid,
            refundable=refundable,
            recommended=recommended,
            allowed=["partial_refund", "uphold"],
            missing_evidence=missing,
            fee_percent=15,
            values=values,
            money_note=f"The provider could not be read ({money_note})",
        )
    )
    # What a person typed comes back into its input as typed (an input value is not mrkdwn).
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    for key in ("note", "justification", "override_reason", "amount"):
        if values.get(key) and key in inputs:
            element = inputs[key]
            assert values[key].startswith(element["initial_value"].removesuffix("…"))
            assert len(element["initial_value"]) <= element["max_length"]


def test_evidence_modal_and_help() -> None:
    check_view(evidence_modal(12))
    check(help_message())


@SETTINGS
@given(st.lists(disputes, max_size=50), st.integers(0, 30))
def test_home_view(listed: list[Dispute], failed: int) -> None:
    items = [queue_item(d, minutes=n * 37 - 600, level="warning") for n, d in enumerate(listed)]
    unowned = [queue_item(replace(d, owner_id=None)) for d in listed]
    content = HomeContent(
        mine=page_of(items),
        approvals=page_of([waiting(d, proposer=d.order_id) for d in listed]),
        unassigned=page_of(unowned),
        now=NOW,
        links={d.number: PERMALINK for d in listed},
        may_take=True,
        team=Team(
            tuple(StuckCount(d.priority, d.order_id, 1, 2) for d in listed),
            tuple(Workload(d.order_id, 3, 2, 1) for d in listed),
        ),
        failed=(failed, listed),
        attention=(failed, listed),
    )
    view = check_view(home_view(content))
    assert len(view["blocks"]) <= 100


@SETTINGS
@given(st.lists(disputes, max_size=60), st.sampled_from(["mine", "unassigned", "stuck"]))
def test_queue_and_team_messages(listed: list[Dispute], kind: str) -> None:
    items = [queue_item(d, minutes=n * 37 - 600, level="breached") for n, d in enumerate(listed)]
    links = {d.number: PERMALINK for d in listed}
    check(queue_message(kind, page_of(items, size=25), links, NOW, may_take=True))
    team = Team(
        tuple(StuckCount(d.priority, d.order_id, 1, 2) for d in listed),
        tuple(Workload(d.order_id, 3, 2, 1) for d in listed),
    )
    check(team_message(team))


@SETTINGS
@given(ledgers())
def test_ledger_and_earlier_blocks(ledger: PaymentLedger) -> None:
    earlier = [EarlierDispute(n, Status.RESOLVED, None, 100 * n, "USD") for n in range(1, 14)]
    check(Message("ledger", ledger_blocks(ledger) + earlier_blocks(earlier)))


# -- the helpers, and what today's builders got wrong ---------------------------------------


def test_customer_reply_fallback_cannot_notify_the_channel() -> None:
    reply = customer_reply("eve@evil.example", "<!channel> refund me <http://evil.example|here>")
    assert "<!channel>" not in reply.text and "<http" not in reply.text
    assert "&lt;!channel&gt; refund me &lt;http://evil.example|here&gt;" in reply.text


def test_every_fallback_escapes_outside_text() -> None:
    d = make_dispute(order_id="<!here>")
    for message in (
        parent_message(d),
        summary(CaseFile(d), None),
        opened(d, None),
        already_open(d, None),
        thread_not_posted(d, "<!channel>"),
        supervisor_ping(
            ProposalCard("D-1", 1, 1, "<!here>", None, "", "U0AGENT", False, True, None, 1, "<!x>"),
            None,
            "<!channel>",
        ),
        refund_alert("D-1", "<!here>", "duplicate", None, None),
        search_results("<!channel>", []),
    ):
        assert "<!" not in message.text, message.text


def test_a_second_line_of_a_claim_stays_in_the_quote() -> None:
    message = parent_message(make_dispute(claim="broken\n*Approved by a supervisor* <!here>"))
    assert message.blocks[1]["text"]["text"] == (
        "> broken\n> *Approved by a supervisor* &lt;!here&gt;"
    )


def test_reply_note_and_correspondence_are_quoted_line_by_line() -> None:
    reply = customer_reply("a@b.example", "one\r\ntwo\u2028three")
    assert reply.blocks[1]["text"]["text"] == "> one\n> two\n> three"
    case = CaseFile(
        make_dispute(),
        [
            EvidenceItem(
                EvidenceKind.CUSTOMER_COMMUNICATION,
                "correspondence",
                "2 messages",
                {"last": {"direction": "inbound", "from": "x", "at": None, "excerpt": "a\nb"}},
                None,
                NOW,
                "intake",
            )
        ],
    )
    text = evidence_sections(case)[0]["text"]["text"]
    assert text.endswith("\n> a\n> b")


def test_quote_prefixes_every_line_and_fits_its_limit() -> None:
    assert quote("") == "> "
    assert quote("a\n\nb") == "> a\n> \n> b"
    assert quote("<x> & y") == "> &lt;x&gt; &amp; y"
    long = quote("&\n" * 2000, 301)
    assert len(long) <= 301 and long.endswith("…")
    assert all(line.startswith("> ") for line in long.splitlines())
    assert all(line.startswith("> ") for line in quote("ab\n" * 50, 10).splitlines())


def test_labelled_keeps_one_line_inline_and_quotes_more() -> None:
    assert labelled("*Why:*", "because") == "*Why:* because"
    assert labelled("*Why:*", "one\ntwo") == "*Why:*\n> one\n> two"


def test_inline_escapes_and_joins_lines() -> None:
    assert inline("a\n<@U1>\r\nb", 100) == "a &lt;@U1&gt; b"


def test_clip_escaped_never_cuts_an_entity_or_a_token() -> None:
    text = "ab" + "&amp;" * 10
    for limit in range(1, len(text)):
        clipped = clip_escaped(text, limit)
        assert len(clipped) <= limit
        assert re.fullmatch(r"(ab|a|)(&amp;)*…", clipped), clipped
    date = "<!date^1700000000^{date_short}|2023-11-14>"
    assert clip_escaped(f"on {date} we", 20) == "on …"
    assert clip_escaped("x <@U0SUPER> y", 8) == "x …"
    assert clip_escaped("short", 5) == "short"


def test_section_and_plain_text_clip_after_escaping_whole() -> None:
    body = section("&amp;" * 700)["text"]["text"]
    assert len(body) <= 3000 and body.endswith("&amp;…")
    label = plain("&" * 100, 75)["text"]
    assert len(label) <= 75 and label.endswith("&amp;…")
    assert plain("<!channel>")["text"] == "&lt;!channel&gt;"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://photos.example/1.jpg", "<https://photos.example/1.jpg|Photo 1>"),
        ("http://a.example/?x=1&y=2", "<http://a.example/?x=1&amp;y=2|Photo 1>"),
        ("https://a.example/a|b>c<d", "<https://a.example/a%7Cb%3Ec%3Cd|Photo 1>"),
        ("javascript:alert(1)", "Photo 1 (javascript:alert(1))"),
        ("data:text/html,<b>", "Photo 1 (data:text/html,&lt;b&gt;)"),
        ("slack://open", "Photo 1 (slack://open)"),
        ("/photos/1.jpg", "Photo 1 (/photos/1.jpg)"),
        ("https://", "Photo 1 (https://)"),
        ("https://a.example/x y", "Photo 1 (https://a.example/x y)"),
        ("http://[::1", "Photo 1 (http://[::1)"),
    ],
)
def test_only_http_urls_become_links(url: str, shown: str) -> None:
    assert link(url, "Photo 1") == shown
    case = CaseFile(
        make_dispute(),
        [
            EvidenceItem(
                EvidenceKind.PROOF_OF_DAMAGE, "x", "1 photo", {"photos": [url]}, url, NOW, "i"
            )
        ],
    )
    assert shown in json.loads(json.dumps(evidence_sections(case)))[0]["text"]["text"]


def test_a_link_given_with_evidence_is_shown_and_labelled_safely() -> None:
    item = EvidenceItem(
        EvidenceKind.ATTACHMENT,
        "slack:U1",
        "receipt",
        {"name": "<!here>.pdf", "link": "https://track.example/1"},
        "https://acme.slack.com/files/U1/F1/x.pdf",
        NOW,
        "U1",
    )
    text = evidence_sections(CaseFile(make_dispute(), [item]))[0]["text"]["text"]
    assert ":link: <https://acme.slack.com/files/U1/F1/x.pdf|&lt;!here&gt;.pdf>" in text
    assert "<https://track.example/1|track.example>" in text


def test_evidence_card_names_what_it_leaves_out() -> None:
    evidence = [
        EvidenceItem(EvidenceKind.ATTACHMENT, "x", f"file {n}", {}, None, NOW, "i")
        for n in range(60)
    ]
    card = evidence_card(CaseFile(make_dispute(), evidence))
    assert validate_message(card.text, card.blocks) == []
    assert len(card.blocks) <= 50
    last = [b for b in card.blocks if b["type"] == "context"][-1]["elements"][0]["text"]
    shown = sum(1 for t in texts(card.blocks) if t.startswith("*Files* · file"))
    assert last == f"…and {60 - shown} more: `/dispute show D-7` lists them."
    listed = summary(CaseFile(make_dispute(), evidence), None)
    assert validate_message(listed.text, listed.blocks) == []
    assert "file 59" in json.dumps(listed.blocks)


def test_escape_is_the_one_escape() -> None:
    assert escape("a<b>&") == "a&lt;b&gt;&amp;"
