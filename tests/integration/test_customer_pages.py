"""The customer's pages as a browser reaches them: offers approved inside the team and put to
the customer, surveys sent on resolution, answered through `/c/<token>` on SQLite and
PostgreSQL. A GET never changes anything; each answer is taken once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bot.customer_pages import MAX_FORM_BODY, SECURITY_HEADERS, customer_page_routes
from disputes.links import LinkClaim
from storage.db import Database
from tests.support.customer_links import LinkWorld
from tests.support.orders import ORDER, order

FORM = {"content-type": "application/x-www-form-urlencoded"}
NOT_VALID = "This link is not valid. If you copied it from an email, check it is complete."
HOSTILE = "<script>alert('x')</script>"


@pytest.fixture
def world(db: Database, tmp_path: Path) -> LinkWorld:
    second = order(order_id="ORD-T2", payment={"provider": "stripe", "reference": "pi_3QtestTWO"})
    hostile = order(
        order_id="ORD-T3",
        payment={"provider": "stripe", "reference": "pi_3QtestTHREE"},
        customer={**ORDER["customer"], "name": HOSTILE},
    )
    return LinkWorld(db, tmp_path, orders=[order(), second, hostile])


@pytest.fixture
async def client(world: LinkWorld) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=customer_page_routes(world.answers))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://disputes.example.com") as c:
        yield c


async def post(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    return await client.post(path, data=fields, headers=FORM)


def assert_secured(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.status_code, name)
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def form_actions(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('<form method="post" action="')[1:]]


async def test_opening_an_offer_shows_it_with_both_answers_and_changes_nothing(
    world: LinkWorld, client: httpx.AsyncClient
) -> None:
    number, token = await world.offer(kind="partial_refund", amount="29.00")
    before = (await world.status(number), await world.trail(number), await world.offer_row(number))
    for _ in range(2):
        page = await client.get(f"/c/{token}")
        assert page.status_code == 200
        assert_secured(page)
    assert (await client.head(f"/c/{token}")).status_code == 200
    html = page.text
    assert form_actions(html) == [f"/c/{token}/accept", f"/c/{token}/decline"]
    assert '<button type="submit" class="primary">Accept</button>' in html
    assert '<button type="submit" class="secondary">Decline</button>' in html
    assert '<textarea id="reason" name="reason"' in html
    assert "Partial refund" in html and "$29.00" in html
    assert "Returns Policy §" in html  # the cited rule: citation, title and text
    expires = (await world.offer_row(number)).expires_at
    assert f"until {expires.day} {expires:%B %Y}" in html
    assert "<script" not in html.lower() and "http" not in html.split("</style>")[1]
    after = (await world.status(number), await world.trail(number), await world.offer_row(number))
    assert after[:2] == before[:2] == ("awaiting_customer", before[1])
    assert (after[2].status, after[2].answered_at) == ("open", None)


async def test_accepting_carries_the_offer_out_once(
    world: LinkWorld, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    number, token = await world.offer(kind="store_credit")
    caplog.set_level(logging.INFO, logger="bot.customer_pages")
    done = await post(client, f"/c/{token}/accept")
    assert done.status_code == 200
    assert_secured(done)
    assert "we are carrying this out now; you will get an email when it is done" in done.text
    assert await world.status(number) == "resolved"
    trail = await world.trail(number)
    accepted = [entry for entry in trail if entry[2] == "status.customer_accepted"]
    assert [(kind, who) for kind, who, _action, _after in accepted] == [
        ("customer", "jane@example.com")
    ]
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.customer_pages"]
    assert lines == [f"customer accepted the offer of D-{number}"]
    assert all(token not in r.getMessage() for r in caplog.records)

    again = await post(client, f"/c/{token}/accept")
    assert again.status_code == 409
    assert_secured(again)
    assert "already accepted" in again.text and "You accepted this offer on" in again.text
    assert form_actions(again.text) == []
    declined_late = await post(client, f"/c/{token}/decline", reason="changed my mind")
    assert declined_late.status_code == 409
    assert await world.trail(number) == trail

    shown = await client.get(f"/c/{token}")
    assert shown.status_code == 200 and form_actions(shown.text) == []
    assert "You accepted this offer on" in shown.text


async def test_answers_sent_at_once_are_taken_once_and_a_refund_is_queued_once(
    world: LinkWorld, client: httpx.AsyncClient
) -> None:
    number, token = await world.offer(kind="partial_refund", amount="29.00")
    assert await world.money.requests(number) == []
    answers = await asyncio.gather(
        post(client, f"/c/{token}/accept"),
        post(client, f"/c/{token}/accept"),
        post(client, f"/c/{token}/decline", reason="no"),
    )
    assert sorted(a.status_code for a in answers) == [200, 409, 409]
    answered = ("status.customer_accepted", "status.customer_declined")
    (taken,) = [e for e in await world.trail(number) if e[2] in answered]
    if taken[2] == "status.customer_declined":
        assert await world.status(number) == "in_review"
        return
    (request,) = await world.money.requests(number)
    assert (request.amount_minor, request.status) == (29_00, "pending")
    assert await world.status(number) == "approved"


async def test_an_offer_that_can_no_longer_be_carried_out_stays_open(
    world: LinkWorld, client: httpx.AsyncClient
) -> None:
    number, token = await world.offer(kind="partial_refund", amount="100.00")
    # Since the approval, a refund made elsewhere left less than the offer on the payment.
    world.gateway.add_refund("pi_3QtestTEST", 50_00, "USD")
    await world.money.ledger_reader.refresh(order())
    trail = await world.trail(number)
    answer = await post(client, f"/c/{token}/accept")
    assert answer.status_code == 409
    assert "We could not take your answer here: reply to our email" in answer.text
    assert form_actions(answer.text) == [f"/c/{token}/accept", f"/c/{token}/decline"]
    assert await world.trail(number) == trail
    assert await world.money.requests(number) == []
    assert (await world.offer_row(number)).status == "open"


async def test_declining_sends_the_dispute_back_to_review_with_the_reason(
    world: LinkWorld, client: httpx.AsyncClient
) -> None:
    number, token = await world.offer(kind="store_credit")
    done = await post(
        client, f"/c/{token}/decline", reason="I want my money back, <b>not</b> credit"
    )
    assert done.status_code == 200
    assert "We have let the team know; they will be in touch" in done.text
    assert await world.status(number) == "in_review"
    (declined,) = [e for e in await world.trail(number) if e[2] == "status.customer_declined"]
    assert declined[0] == "customer"
    assert declined[3]["reason"] == "I want my money back, <b>not</b> credit"
    assert (await world.offer_row(number)).decline_reason == declined[3]["reason"]
    shown = await client.get(f"/c/{token}")
    assert "You declined this offer on" in shown.text and form_actions(shown.text) == []
    assert (await post(client, f"/c/{token}/accept")).status_code == 409
    assert await world.status(number) == "in_review"


async def test_a_link_that_is_not_ours_gets_one_page_that_names_nothing(
    world: LinkWorld, client: httpx.AsyncClient
) -> None:
    first, token = await world.offer("ORD-T1")
    second, other = await world.offer("ORD-T2")
    offer_of_first = await world.offer_row(first)
    kind, row_id, _number, expires, nonce, signature = token.split(".")
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    renumbered = ".".join([kind, row_id, str(second), expires, nonce, signature])
    beyond_datetime = ".".join([kind, row_id, str(first), "9" * 12, nonce, signature])
    # Signed with the installation's key: the first dispute's offer claimed for the second.
    swapped = await world.sign(
        LinkClaim("offer", offer_of_first.id, second, offer_of_first.expires_at, nonce)
    )
    as_survey = await world.sign(
        LinkClaim("csat", offer_of_first.id, first, offer_of_first.expires_at, nonce)
    )
    bad = [forged, renumbered, beyond_datetime, swapped, as_survey, token + "%0A", token[:20]]
    bad += ["x" * 500, "é" * 10]
    trails = [await world.trail(first), await world.trail(second)]
    pages = []
    for link in bad:
        pages.append(await client.get(f"/c/{link}"))
        pages.append(await post(client, f"/c/{link}/accept"))
        pages.append(await post(client, f"/c/{link}/decline", reason="no"))
        pages.append(await post(client, f"/c/{link}/rate", rating="5"))
    assert {p.status_code for p in pages} == {404}
    assert {p.text for p in pages} == {pages[0].text}
    assert NOT_VALID in pages[0].text
    assert_secured(pages[0])
    assert [await world.trail(first), await world.trail(second)] == trails
    assert [await world.status(first), await world.status(second)] == ["awaiting_customer"] * 2
    assert (await client.get(f"/c/{other}")).status_code == 200


async def test_an_expired_offer_moves_nothing(world: LinkWorld, client: httpx.AsyncClient) -> None:
    number, token = await world.offer(kind="store_credit")
    expires = (await world.offer_row(number)).expires_at
    world.money.later((expires - world.clock() + timedelta(seconds=1)).total_seconds())
    trail = await world.trail(number)
    for answer in (
        await post(client, f"/c/{token}/accept"),
        await post(client, f"/c/{token}/decline", reason="too late?"),
    ):
        assert answer.status_code == 409
        assert f"This offer expired on {expires.day} {expires:%B %Y}" in answer.text
        assert "reply to our email and the team will help" in answer.text
    assert await world.status(number) == "awaiting_customer"
    assert await world.trail(number) == trail
    assert (await world.offer_row(number)).status == "open"
    shown = await client.get(f"/c/{token}")
    assert shown.status_code == 200 and form_actions(shown.text) == []


async def test_methods_content_types_and_sizes_are_checked_before_the_answer(
    world: LinkWorld, client: httpx.AsyncClient
) -> None:
    number, token = await world.offer(kind="store_credit")
    trail = await world.trail(number)
    for path in ("accept", "decline", "rate"):
        refused = await client.get(f"/c/{token}/{path}")
        assert refused.status_code == 405 and refused.headers["allow"] == "POST"
        assert_secured(refused)
    page_post = await post(client, f"/c/{token}")
    assert page_post.status_code == 405 and page_post.headers["allow"] == "GET, HEAD"
    assert (await client.put(f"/c/{token}/accept")).status_code == 405
    as_json = await client.post(f"/c/{token}/decline", json={"reason": "no"})
    assert as_json.status_code == 415
    assert_secured(as_json)
    big = await client.post(
        f"/c/{token}/decline", content=b"reason=" + b"a" * MAX_FORM_BODY, headers=FORM
    )
    assert big.status_code == 413
    assert_secured(big)
    not_utf8 = await client.post(f"/c/{token}/decline", content=b"reason=\xff\xfe", headers=FORM)
    assert not_utf8.status_code == 400
    assert await world.status(number) == "awaiting_customer"
    assert await world.trail(number) == trail


async def test_what_the_dispute_and_the_policy_say_is_escaped(
    world: LinkWorld, client: httpx.AsyncClient
) -> None:
    number, token = await world.offer("ORD-T3", kind="store_credit")
    await world.rewrite_cited_rules(number, title=HOSTILE, text=f"{HOSTILE} & more")
    page = await client.get(f"/c/{token}")
    assert page.status_code == 200
    assert "<script" not in page.text
    assert page.text.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") == 3
    assert "&amp; more" in page.text


async def test_a_survey_is_rated_once_from_1_to_5(
    world: LinkWorld, client: httpx.AsyncClient
) -> None:
    number, offer = await world.offer(kind="store_credit")
    await post(client, f"/c/{offer}/accept")
    token = await world.survey(number)
    page = await client.get(f"/c/{token}")
    assert page.status_code == 200
    assert form_actions(page.text) == [f"/c/{token}/rate"]
    radios = [f'<input type="radio" name="rating" value="{n}" required>' for n in range(1, 6)]
    assert all(radio in page.text for radio in radios)
    assert 'name="comment"' in page.text and ">Send rating</button>" in page.text

    for wrong in ("0", "6", "x", ""):
        refused = await post(client, f"/c/{token}/rate", rating=wrong, comment="kept <i>here</i>")
        assert refused.status_code == 400, wrong
        assert_secured(refused)
        assert "A rating is a whole number from 1 to 5." in refused.text
        assert form_actions(refused.text) == [f"/c/{token}/rate"]
        assert "kept &lt;i&gt;here&lt;/i&gt;</textarea>" in refused.text
    assert (await world.survey_row(number)).rating is None

    rated = await post(client, f"/c/{token}/rate", rating="4", comment="quick, thanks")
    assert rated.status_code == 200
    assert "Thanks — you rated us 4 out of 5" in rated.text
    survey = await world.survey_row(number)
    assert (survey.rating, survey.comment) == (4, "quick, thanks")
    (entry,) = [e for e in await world.trail(number) if e[2] == "customer.rated"]
    assert entry[0] == "customer" and entry[3]["rating"] == 4

    again = await post(client, f"/c/{token}/rate", rating="1")
    assert again.status_code == 409
    assert "You have already rated us" in again.text
    assert "Thanks — you rated us 4 out of 5" in again.text
    assert (await world.survey_row(number)).rating == 4
    shown = await client.get(f"/c/{token}")
    assert "Thanks — you rated us 4 out of 5" in shown.text and form_actions(shown.text) == []
    assert (await post(client, f"/c/{token}/rate", rating="9")).status_code == 409
    # A survey's link answers no offer, and an offer's link rates nothing.
    assert (await post(client, f"/c/{token}/accept")).status_code == 404
    assert (await post(client, f"/c/{offer}/rate", rating="5")).status_code == 404
