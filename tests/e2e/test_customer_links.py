"""The customer's links end to end, through the real app process with localstripe as the refund
provider and the offers written to the app's log (CUSTOMER_CHANNEL=log): an approved partial
refund waits for the customer and moves no money; opening the link changes nothing; a forged
link is not valid; a decline (hostile words and all) goes back to review; a new proposal gets a
new link whose accept refunds exactly once; every link answers once; an offer whose stored
expiry has passed expires and can no longer be accepted; the closing message's survey is rated
once."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.demo_world import find_reply, thread_of
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from tests.e2e.test_refunds import payment_of, propose, refunds_at
from tests.support.app_process import AppProcess, money_app_process
from tests.support.customer import (
    customer_accepts,
    customer_answers,
    latest_link,
    links_in,
    post_form,
)

PROPOSER, APPROVER = "U0MANAGER1", "U0SUPER"
HOSTILE = "<script>alert(1)</script> *bold* <!channel>"
# How SQLAlchemy writes a datetime into SQLite (UTC, the zone dropped).
STORED_TIME = "%Y-%m-%d %H:%M:%S.%f"


@pytest.fixture(scope="module")
def links_app(
    emulator: EmulatorServer,
    stripe: str,
    paid_orders: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AppProcess]:
    tmp = tmp_path_factory.mktemp("links")
    with money_app_process(
        tmp, emulator.api_url, stripe=stripe, paid_orders=paid_orders, CUSTOMER_CHANNEL="log"
    ) as app:
        yield app


@pytest.fixture
async def slack(links_app: AppProcess, emulator: EmulatorServer) -> AsyncIterator[SlackDriver]:
    async with SlackDriver(
        links_app.url, links_app.secret, emulator.workspace, emulator.base_url
    ) as driver:
        yield driver


async def offered(
    slack: SlackDriver, ws: Workspace, app: AppProcess, order_id: str, amount: str, seen: int = 0
) -> str:
    """A partial refund of `amount` proposed and approved; the link of the offer it made (the
    one after the `seen` already in the log), once the thread shows the offer was sent."""
    sent_before = len(mirrors(ws, order_id, "Sent to the customer"))
    reply = await propose(
        slack, ws, order_id, PROPOSER, kind="partial_refund", amount=amount, note="goodwill"
    )
    assert reply.status_code == 200 and reply.content in (b"", b"null"), reply.text
    card = await eventually(lambda: find_reply(ws, order_id, "proposal.approve"))
    approved = await slack.block_action("proposal.approve", user=APPROVER, message_ts=card.ts)
    assert approved.status_code == 200
    links = await eventually(lambda: (f := links_in(app.output(), order_id)[seen:]) and f)
    assert len(links) == 1, links
    await eventually(lambda: len(mirrors(ws, order_id, "Sent to the customer")) > sent_before)
    return links[0]


def mirrors(ws: Workspace, order_id: str, needle: str) -> list[str]:
    """The thread's replies showing `needle`, as Slack would render their blocks."""
    shown = [json.dumps(m.blocks, ensure_ascii=False) for m in thread_of(ws, order_id)[1:]]
    return [text for text in shown if needle in text]


def parent_says(ws: Workspace, order_id: str, status: str) -> bool:
    thread = thread_of(ws, order_id)
    return bool(thread) and thread[0].text.endswith(status)


def rows(app: AppProcess, query: str, *args: object) -> list[tuple]:
    with sqlite3.connect(app.database, timeout=10) as db:
        return db.execute(query, args).fetchall()


def status_of(app: AppProcess, order_id: str) -> str:
    [(status,)] = rows(app, "SELECT status FROM disputes WHERE order_id = ?", order_id)
    return str(status)


def forged(link: str) -> str:
    return link[:-1] + ("A" if link[-1] != "A" else "B")


async def test_an_offer_waits_for_the_customer_and_a_decline_sends_it_back_to_review(
    slack: SlackDriver,
    workspace: Workspace,
    links_app: AppProcess,
    stripe: str,
    paid_orders: Path,
) -> None:
    order = "ORD-1001"
    payment = payment_of(paid_orders, order)
    await slack.command(f"open {order} damaged the lid is cracked", user=PROPOSER)
    link = await offered(slack, workspace, links_app, order, "20.00")
    assert link.startswith(f"{links_app.url}/c/offer.")
    await eventually(lambda: parent_says(workspace, order, "Awaiting customer"))
    assert status_of(links_app, order) == "awaiting_customer"
    assert await refunds_at(stripe, payment) == []

    # Opening the link (twice: a mail scanner, then the customer) changes nothing.
    audit = "SELECT id, action FROM audit_entries ORDER BY id"
    before = rows(links_app, audit)
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(2):
            page = await client.get(link)
            assert page.status_code == 200
            assert ">Accept</button>" in page.text and ">Decline</button>" in page.text
            assert "20.00" in page.text
        fake = await client.get(forged(link))
    assert rows(links_app, audit) == before
    assert status_of(links_app, order) == "awaiting_customer"
    assert parent_says(workspace, order, "Awaiting customer")
    assert await refunds_at(stripe, payment) == []

    # A link changed by one character is not ours: the generic page, which names nothing.
    assert fake.status_code == 404
    assert "This link is not valid" in fake.text and "D-" not in fake.text
    assert (await post_form(forged(link), "accept")).status_code == 404
    assert rows(links_app, audit) == before

    declined = await post_form(link, "decline", reason=HOSTILE)
    assert declined.status_code == 200 and "Offer declined" in declined.text
    said = await eventually(lambda: mirrors(workspace, order, "declined the offer"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; *bold* &lt;!channel&gt;" in said[0]
    assert "<!channel>" not in said[0] and "<script>" not in said[0]
    await eventually(lambda: parent_says(workspace, order, "In review"))
    assert status_of(links_app, order) == "in_review"
    [(number,)] = rows(links_app, "SELECT number FROM disputes WHERE order_id = ?", order)
    dm = workspace.dm_id(PROPOSER)
    told = await eventually(
        lambda: [
            text
            for m in workspace.history(dm)
            if f"declined the offer of your Proposal 1 for D-{number} "
            in (text := json.dumps(m.blocks))
        ]
    )
    assert "&lt;!channel&gt;" in told[0] and "<!channel>" not in told[0]

    # Answered once: accepting afterwards is refused and moves nothing.
    late = await post_form(link, "accept")
    assert late.status_code == 409 and "already declined" in late.text
    assert status_of(links_app, order) == "in_review"
    assert await refunds_at(stripe, payment) == []


async def test_a_new_proposal_gets_a_new_link_whose_accept_refunds_exactly_once(
    slack: SlackDriver,
    workspace: Workspace,
    links_app: AppProcess,
    stripe: str,
    paid_orders: Path,
) -> None:
    order = "ORD-1003"
    payment = payment_of(paid_orders, order)
    await slack.command(f"open {order} not as described fibre differs", user=PROPOSER)
    first = await offered(slack, workspace, links_app, order, "30.00")
    assert (await post_form(first, "decline")).status_code == 200
    await eventually(lambda: parent_says(workspace, order, "In review"))

    second = await offered(slack, workspace, links_app, order, "25.00", seen=1)
    assert second != first and second.startswith(f"{links_app.url}/c/offer.")
    await eventually(lambda: parent_says(workspace, order, "Awaiting customer"))
    accepted = await post_form(second, "accept")
    assert accepted.status_code == 200 and "Offer accepted" in accepted.text
    await eventually(lambda: mirrors(workspace, order, "The customer accepted the offer"))
    refunded = await eventually(lambda: mirrors(workspace, order, "Refunded *"), within=30)
    assert "25.00 USD" in refunded[0]
    await eventually(lambda: parent_says(workspace, order, "Resolved"))

    again = await post_form(second, "accept")
    assert again.status_code == 409 and "already accepted" in again.text
    old = await post_form(first, "accept")
    assert old.status_code == 409 and "already declined" in old.text
    refunds = await refunds_at(stripe, payment)
    assert [(r["amount"], r["status"]) for r in refunds] == [(2500, "succeeded")]


async def test_an_offer_past_its_stored_expiry_expires_and_cannot_be_accepted(
    slack: SlackDriver,
    workspace: Workspace,
    links_app: AppProcess,
    stripe: str,
    paid_orders: Path,
) -> None:
    order = "ORD-1006"
    await slack.command(f"open {order} size too large", user=PROPOSER)
    link = await offered(slack, workspace, links_app, order, "14.00")
    await eventually(lambda: parent_says(workspace, order, "Awaiting customer"))

    offer = (
        "SELECT customer_offers.id, customer_offers.expires_at FROM customer_offers "
        "JOIN disputes ON disputes.id = customer_offers.dispute_id WHERE disputes.order_id = ?"
    )
    [(offer_id, stored)] = rows(links_app, offer, order)
    assert datetime.strptime(stored, STORED_TIME) > datetime.now(UTC).replace(tzinfo=None)
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime(STORED_TIME)
    with sqlite3.connect(links_app.database, timeout=10) as db:
        db.execute("UPDATE customer_offers SET expires_at = ? WHERE id = ?", (past, offer_id))

    # The link's own expiry is still ahead: only the stored time says it is over.
    said = await eventually(lambda: mirrors(workspace, order, "expired without an answer"))
    assert "waits for a person" in said[0]
    await eventually(lambda: parent_says(workspace, order, "Offer expired"))
    late = await post_form(link, "accept")
    assert late.status_code == 409
    assert "This offer has expired" in late.text and "no longer open" in late.text
    assert rows(links_app, "SELECT status FROM customer_offers WHERE id = ?", offer_id) == [
        ("expired",)
    ]
    assert await refunds_at(stripe, payment_of(paid_orders, order)) == []


async def test_the_closing_message_asks_for_a_rating_that_is_taken_once(
    slack: SlackDriver, workspace: Workspace, links_app: AppProcess
) -> None:
    order = "ORD-1005"
    await slack.command(f"open {order} size too small", user=PROPOSER)
    await offered(slack, workspace, links_app, order, "12.00")
    await customer_accepts(links_app, order)
    await eventually(lambda: mirrors(workspace, order, "Refunded *"), within=30)

    survey = await eventually(lambda: latest_link(links_app.output(), order, "closing"))
    assert survey.startswith(f"{links_app.url}/c/csat.")
    rated = await customer_answers(
        links_app, order, "rate", rating="4", comment="Quick & <b>kind</b>"
    )
    assert rated.status_code == 200 and "you rated us 4 out of 5" in rated.text
    said = await eventually(lambda: mirrors(workspace, order, "rated the handling"))
    assert "★★★★☆ 4/5" in said[0] and "Quick &amp; &lt;b&gt;kind&lt;/b&gt;" in said[0]

    again = await post_form(survey, "rate", rating="1", comment="changed my mind")
    assert again.status_code == 409 and "already rated" in again.text
    assert rows(
        links_app,
        "SELECT rating, comment FROM csat_surveys JOIN disputes "
        "ON disputes.id = csat_surveys.dispute_id WHERE disputes.order_id = ?",
        order,
    ) == [(4, "Quick & <b>kind</b>")]
    assert len(mirrors(workspace, order, "rated the handling")) == 1
