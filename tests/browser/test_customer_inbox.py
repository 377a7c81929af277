"""The customer's side of a demo-like world in the browser: an approved partial refund is mailed
to the customer through the SMTP sink, the sandbox's *Customer inbox* shows the mail, its link
opens the offer page on the app, and accepting there shows up, live, in the dispute's thread:
the customer accepted, and the refund went through (at localstripe, once)."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Coroutine, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from bot.demo_world import find_reply, offer_link, propose
from connectors.orders.factory import default_fixtures_path
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.waiting import eventually
from sandbox.world.mailbox import Mailbox
from tests.browser.conftest import ARTIFACTS, ROLES
from tests.browser.test_journeys import as_person, open_thread
from tests.support.app_process import AppProcess, app_process
from tests.support.localstripe import (
    API_KEY,
    create_payment,
    localstripe_server,
    require_localstripe,
)

T = TypeVar("T")
ORDER = "ORD-1001"
PROPOSER, APPROVER = "U0MANAGER1", "U0SUPER"


class Background:
    """An event loop in a thread, for what must run in one (the mailbox's SMTP server, the
    Slack driver's requests) while Playwright's synchronous API holds the main thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def background() -> Iterator[Background]:
    running = Background()
    yield running
    running.close()


@pytest.fixture(scope="module")
def mailbox(background: Background) -> Iterator[Mailbox]:
    inbox = background.call(Mailbox().start())
    yield inbox
    background.call(inbox.stop())


@pytest.fixture(scope="module")
def stripe() -> Iterator[str]:
    require_localstripe()
    with localstripe_server() as base:
        yield base


@pytest.fixture(scope="module")
def paid_orders(
    stripe: str, background: Background, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The order, paid by a real payment intent in localstripe."""
    folder = tmp_path_factory.mktemp("orders")
    source = default_fixtures_path() / f"{ORDER}.json"
    data = json.loads(source.read_text())
    minor = int(data["total"].replace(".", ""))
    data["payment"]["reference"] = background.call(create_payment(stripe, minor, "usd"))
    (folder / source.name).write_text(json.dumps(data))
    return folder


@pytest.fixture(scope="module")
def app(
    emulator: EmulatorServer,
    mailbox: Mailbox,
    stripe: str,
    paid_orders: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AppProcess]:
    """The app as the demo runs it: refunds at localstripe, customer mail to the SMTP sink the
    emulator's inbox page shows. Without PUBLIC_URL its links are its own http://HOST:PORT."""
    tmp = tmp_path_factory.mktemp("inbox-app")
    roles = tmp / "roles.yml"
    roles.write_text(ROLES)
    with app_process(
        tmp,
        emulator.api_url,
        ROLES_FILE=str(roles),
        SUPERVISORS_CHANNEL="#dispute-supervisors",
        ORDER_SOURCE=f"fixtures:{paid_orders}",
        REFUND_GATEWAY="stripe",
        STRIPE_API_KEY=API_KEY,
        STRIPE_API_BASE=stripe,
        CUSTOMER_CHANNEL=mailbox.url,
        CUSTOMER_FROM="care@shop.example",
    ) as running:
        emulator.attach_mailbox(mailbox)
        emulator.attach_driver(
            SlackDriver(running.url, running.secret, emulator.workspace, emulator.base_url)
        )
        yield running
        emulator.attach_driver(None)
        emulator.attach_mailbox(None)


@pytest.fixture
def slack(app: AppProcess, emulator: EmulatorServer, background: Background) -> Iterator[Any]:
    """The test's own SlackDriver, used only from the background loop."""
    driver = SlackDriver(app.url, app.secret, emulator.workspace, emulator.base_url)
    yield driver
    background.call(driver.aclose())


async def offer_approved(slack: SlackDriver, emulator: EmulatorServer) -> str:
    """Open the dispute, propose a partial refund, approve it: the link in the offer's mail."""
    ws = emulator.workspace
    await slack.command(f"open {ORDER} damaged the lid is cracked", user=PROPOSER)
    await propose(slack, ws, ORDER, PROPOSER, kind="partial_refund", amount="20.00", note="sorry")
    card = await eventually(partial(find_reply, ws, ORDER, "proposal.approve"))
    await slack.block_action("proposal.approve", user=APPROVER, message_ts=card.ts)
    return await eventually(partial(offer_link, emulator.app.state.mailbox, ORDER, "offer"), 30)


async def refunds_at(stripe: str, payment: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        answer = await client.get(f"{stripe}/v1/refunds", params={"payment_intent": payment})
        return list(answer.json()["data"])


def test_the_customer_accepts_from_the_inbox_and_the_thread_shows_the_refund(
    page: Any,
    emulator: EmulatorServer,
    app: AppProcess,
    slack: SlackDriver,
    background: Background,
    stripe: str,
    paid_orders: Path,
) -> None:
    link = background.call(offer_approved(slack, emulator))
    assert link.startswith(f"{app.url}/c/offer.")

    # The customer reads the mail in the sandbox's inbox and follows its link.
    page.get_by_role("link", name="Customer inbox").click()
    page.get_by_role("heading", name="Customer inbox").wait_for()
    mail = page.locator("article.email", has_text=ORDER).first
    mail.wait_for()
    assert "maya.thompson@example.com" in mail.locator(".email-to").inner_text()
    with page.context.expect_page() as opened:
        mail.locator(f'a[href="{link}"]').click()
    offer = opened.value
    offer.wait_for_load_state()
    offer.get_by_role("heading", name="Our offer").wait_for()
    assert offer.get_by_text("$20.00", exact=True).is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    offer.screenshot(path=str(ARTIFACTS / "customer-offer.png"), full_page=True)

    # The team watches the thread while the customer accepts in the other tab.
    as_person(page, emulator, PROPOSER)
    thread = open_thread(page, ORDER)
    thread.get_by_text("Sent to the customer").first.wait_for()
    assert thread.get_by_text("The customer accepted the offer").count() == 0
    offer.get_by_role("button", name="Accept", exact=True).click()
    offer.get_by_role("heading", name="Offer accepted").wait_for()
    assert offer.get_by_text("we are carrying this out now", exact=False).is_visible()

    thread.get_by_text("The customer accepted the offer").first.wait_for()
    refunded = thread.locator(".msg", has_text=re.compile(r"Refunded \d")).first
    refunded.wait_for()
    assert "Refunded 20.00 USD for D-1" in refunded.inner_text()
    page.screenshot(path=str(ARTIFACTS / "customer-accepted-thread.png"))
    payment = json.loads((paid_orders / f"{ORDER}.json").read_text())["payment"]["reference"]
    refunds = background.call(refunds_at(stripe, payment))
    assert [r["amount"] for r in refunds] == [2000]
