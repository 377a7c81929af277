"""The customer's pages in Chromium on a phone-sized screen, served by uvicorn over loopback:
decline one offer with a reason, accept another, then rate the resolved dispute."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from starlette.applications import Starlette

from bot.customer_pages import customer_page_routes
from bot.serve import Server, asgi_server
from storage.db import Database
from storage.migrate import migrate
from tests.browser.conftest import ARTIFACTS
from tests.support.customer_links import LinkWorld
from tests.support.orders import order
from tests.support.postgres import free_port

T = TypeVar("T")
PHONE = {"width": 390, "height": 844}


class ServedLinks:
    """A LinkWorld and the customer's pages under uvicorn, run from a thread with its own
    event loop so that Playwright's synchronous API can drive the browser meanwhile."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.url = ""

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=60)

    def __enter__(self) -> ServedLinks:
        self.thread.start()
        self.call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _start(self) -> None:
        self.db = Database(f"sqlite+aiosqlite:///{self.folder / 'pages.db'}")
        await migrate(self.db)
        orders = [order()] + [
            order(order_id=f"ORD-T{n}", payment={"provider": "stripe", "reference": f"pi_{n}"})
            for n in (2, 3)
        ]
        self.world = LinkWorld(self.db, self.folder, orders=orders)
        app = Starlette(routes=customer_page_routes(self.world.answers))
        port = free_port()
        self.server: Server = asgi_server(app, "127.0.0.1", port)
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
                raise RuntimeError("the customer pages did not start")
            await asyncio.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        self.server.should_exit = True
        await self.task
        await self.db.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedLinks]:
    with ServedLinks(tmp_path_factory.mktemp("customer-pages")) as served:
        yield served


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    console: list[str] = []
    tab.on("console", lambda message: console.append(message.text))
    yield tab
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "customer-page.png"), full_page=True)
    context.close()
    # A page the security policy had to block something on would say so here.
    assert console == []


def fits_the_screen(tab: Any) -> None:
    for button in tab.locator("button").all():
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44 and box["x"] + box["width"] <= PHONE["width"]


def test_the_customer_declines_one_offer_and_accepts_another(site: ServedLinks, phone: Any) -> None:
    declined, first = site.call(site.world.offer("ORD-T1", kind="store_credit"))
    accepted, second = site.call(site.world.offer("ORD-T2", kind="partial_refund", amount="29.00"))

    phone.goto(f"{site.url}/c/{first}")
    assert phone.get_by_role("heading", name="Our offer").is_visible()
    assert phone.get_by_text("Store credit", exact=True).is_visible()
    fits_the_screen(phone)
    phone.get_by_label("Tell us why").fill("I would rather have my money back")
    phone.get_by_role("button", name="Decline", exact=True).click()
    phone.get_by_text("We have let the team know; they will be in touch.").wait_for()
    assert site.call(site.world.status(declined)) == "in_review"
    row = site.call(site.world.offer_row(declined))
    assert row.decline_reason == "I would rather have my money back"

    phone.goto(f"{site.url}/c/{second}")
    assert phone.get_by_text("$29.00", exact=True).is_visible()
    phone.get_by_role("button", name="Accept", exact=True).click()
    phone.get_by_text("we are carrying this out now", exact=False).wait_for()
    assert site.call(site.world.status(accepted)) == "approved"
    phone.goto(f"{site.url}/c/{second}")
    assert phone.get_by_text("You accepted this offer on", exact=False).is_visible()
    assert phone.get_by_role("button").count() == 0


def test_the_customer_rates_a_resolved_dispute(site: ServedLinks, phone: Any) -> None:
    number, offer = site.call(site.world.offer("ORD-T3", kind="store_credit"))
    site.call(site.world.answers.accept(offer))
    survey = site.call(site.world.survey(number))

    phone.goto(f"{site.url}/c/{survey}")
    assert phone.get_by_role("heading", name="How did we do?").is_visible()
    fits_the_screen(phone)
    phone.get_by_role("radio", name="5").check()
    phone.get_by_label("Anything you want to tell us?").fill("Quick and kind.")
    phone.get_by_role("button", name="Send rating").click()
    phone.get_by_text("Thanks — you rated us 5 out of 5", exact=False).wait_for()
    row = site.call(site.world.survey_row(number))
    assert (row.rating, row.comment) == (5, "Quick and kind.")
