"""The workspace page, as a manager uses it: command, thread, buttons, modals, confirm dialog."""

from __future__ import annotations

import time
from typing import Any

from sandbox.slack.server import EmulatorServer
from tests.browser.conftest import ARTIFACTS


def test_open_review_and_propose_from_the_browser(page: Any) -> None:
    composer = page.get_by_label("Message")
    composer.fill("/dispute open ORD-1001 damaged the box was crushed")
    composer.press("Enter")

    # The parent message arrives through the event stream; its replies open the thread panel.
    parent = page.locator("#messages .msg.has-replies", has_text="D-1 · ORD-1001")
    parent.get_by_role("button", name="replies").click()
    thread = page.locator("#thread-messages")
    thread.get_by_text("Evidence · D-1").wait_for()

    # "Why?" opens the policy trace as a modal; Close pops it.
    thread.get_by_role("button", name="Why?").first.click()
    modal = page.locator("#modal")
    modal.locator("#modal-title").wait_for()
    assert modal.is_visible()
    modal.locator(".modal-close").click()
    modal.wait_for(state="hidden")

    # "Start review": a bad amount comes back as a field error from the app, then a good one.
    thread.get_by_role("button", name="Start review").click()
    modal.get_by_text("Resolve D-1").wait_for()
    modal.get_by_label("Partial refund").check()
    modal.locator('[data-block-id="amount"] input').fill("abc")
    modal.locator("#modal-submit").click()
    error = modal.locator('[data-block-id="amount"] .field-error')
    error.wait_for()
    assert error.inner_text().strip()
    modal.locator('[data-block-id="amount"] input').fill("10.00")
    modal.locator("#modal-submit").click()
    modal.wait_for(state="hidden")

    # The proposal lands in the thread; Approve asks first, and Cancel sends nothing.
    approve = thread.get_by_role("button", name="Approve", exact=True)
    approve.wait_for()
    approve.click()
    confirm = page.locator("#confirm-dialog")
    confirm.wait_for()
    assert "Approve" in confirm.inner_text()
    confirm.locator(".deny").click()
    confirm.wait_for(state="hidden")
    assert approve.is_visible()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "thread.png"), full_page=True)


def test_home_tab_direct_messages_and_customer_inbox(page: Any, emulator: EmulatorServer) -> None:
    composer = page.get_by_label("Message")
    composer.fill("/dispute open ORD-1003 damaged arrived broken")
    composer.press("Enter")
    page.locator("#messages .msg", has_text="ORD-1003").first.wait_for()

    # Opening Home sends app_home_opened; the view the app publishes arrives by itself.
    page.get_by_role("link", name="Dispute Desk · Home").click()
    home = page.locator("#home")
    home.locator(".bk-header", has_text="Dispute Desk").wait_for()
    home.get_by_text("ORD-1003").first.wait_for()
    assert page.locator("#composer").is_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home.png"))

    # Another person opens their own Home tab: the app publishes one for them too.
    page.get_by_label("Current user").select_option("U0AGENT")
    deadline = time.monotonic() + 10
    while "U0AGENT" not in emulator.workspace.home_views:
        assert time.monotonic() < deadline, "no Home tab was published for U0AGENT"
        time.sleep(0.05)
    home.get_by_text("ORD-1003").first.wait_for()

    # The DM with the bot: empty until the app writes there.
    page.locator("#dms").get_by_role("link", name="Dispute Desk").click()
    page.get_by_text("This is your direct message with Dispute Desk").wait_for()
    assert "direct message" in page.locator("#channel-header").inner_text()
    assert page.locator("#home").is_hidden() and page.locator("#composer").is_visible()

    # The customer's side, with no mailbox attached here.
    page.get_by_role("link", name="Customer inbox").click()
    page.get_by_text("No mailbox: run").wait_for()
    assert "reply as the customer" in page.locator("#reply-note").inner_text()


def test_a_thread_opened_while_the_page_is_refreshing_stays_open(page: Any) -> None:
    composer = page.get_by_label("Message")
    composer.fill("/dispute open ORD-1005 damaged the lid was cracked")
    composer.press("Enter")
    parent = page.locator("#messages .msg.has-replies", has_text="ORD-1005")
    replies = parent.get_by_role("button", name="replies")
    replies.wait_for()

    # Hold the page's next channel refresh in flight, open the thread, then let it answer:
    # the late answer, asked for before the click, must not close the thread again.
    held: list[Any] = []

    def hold_channel_refresh(route: Any) -> None:
        if held or "thread=" in route.request.url:
            route.continue_()
        else:
            held.append(route)

    page.route("**/_sandbox/state?*", hold_channel_refresh)
    composer.fill("looking at this one now")
    composer.press("Enter")
    deadline = time.monotonic() + 10
    while not held:
        assert time.monotonic() < deadline, "the page never refreshed the channel"
        page.wait_for_timeout(20)
    replies.click()
    held[0].continue_()

    page.locator("#thread-messages").get_by_text("Evidence · ").first.wait_for()
    page.wait_for_timeout(300)  # any later refresh has come and gone
    assert page.locator("#thread-panel").is_visible()
    assert page.locator("#thread-messages").get_by_text("Evidence · ").first.is_visible()
