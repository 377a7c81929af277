"""The team's journeys in the browser, person by person: an agent opens a dispute, a manager
proposes what needs a supervisor, the supervisor acts from the alert's link, and the proposer
hears of it in a direct message."""

from __future__ import annotations

import re
from typing import Any

from sandbox.slack.server import EmulatorServer
from tests.browser.conftest import ARTIFACTS


def as_person(page: Any, emulator: EmulatorServer, user: str, channel: str = "C0DISPUTES") -> None:
    page.goto(f"{emulator.base_url}/?user={user}&channel={channel}")
    page.locator("#messages").wait_for()


def open_thread(page: Any, order_id: str) -> Any:
    parent = page.locator("#messages .msg.has-replies", has_text=order_id)
    parent.get_by_role("button", name="replies").click()
    thread = page.locator("#thread-messages")
    thread.get_by_text("Evidence · ").first.wait_for()
    return thread


def propose_outside_policy(page: Any, thread: Any, why: str) -> None:
    """Start review and pick an option the policy does not allow, with a justification."""
    thread.get_by_role("button", name="Start review").click()
    modal = page.locator("#modal")
    modal.get_by_text(re.compile(r"Resolve D-\d+")).wait_for()
    modal.get_by_label(re.compile("outside policy")).first.check()
    override = modal.locator('[data-block-id="override_reason"] textarea')
    if override.count():
        override.fill("the customer sent photos by post")
    modal.locator('[data-block-id="justification"] textarea').fill(why)
    modal.locator("#modal-submit").click()
    modal.wait_for(state="hidden")


def test_a_supervisor_approves_from_the_alert_and_the_proposer_hears_of_it(
    page: Any, emulator: EmulatorServer
) -> None:
    as_person(page, emulator, "U0AGENT")
    composer = page.get_by_label("Message")
    composer.fill("/dispute open ORD-1013 damaged the lid was cracked")
    composer.press("Enter")
    page.locator("#messages .ephemeral", has_text="Opened D-").wait_for()

    as_person(page, emulator, "U0MANAGER1")
    thread = open_thread(page, "ORD-1013")
    # Why? leads with plain sentences, the rules that matched after them.
    thread.get_by_role("button", name="Why?").first.click()
    modal = page.locator("#modal")
    modal.get_by_role("button", name="Show every rule checked").wait_for()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "why.png"))
    modal.locator(".modal-close").click()
    modal.wait_for(state="hidden")
    propose_outside_policy(page, thread, "a loyal customer of ten years")
    thread.get_by_text(re.compile(r"Proposal 1 for D-\d+")).first.wait_for()

    # The supervisor reads the alert, which names what waits and for whom, and follows it.
    as_person(page, emulator, "U0SUPER", "C0SUPERVISORS")
    alert = page.locator("#messages .msg", has_text="needs a supervisor").last
    alert.wait_for()
    assert "proposed by" in alert.inner_text()
    page.screenshot(path=str(ARTIFACTS / "supervisor-alert.png"))
    with page.context.expect_page() as opened:
        alert.get_by_role("link", name="Open the thread").click()
    tab = opened.value
    tab.wait_for_load_state()
    panel = tab.locator("#thread-messages")
    approve = panel.get_by_role("button", name="Approve", exact=True)
    approve.wait_for()
    approve.click()
    tab.locator("#confirm-dialog").wait_for()
    tab.locator("#confirm-dialog .ok").click()
    panel.get_by_text(re.compile("Approved by @Sam Supervisor")).wait_for()
    # Closed: the review's buttons gave way to how it ended.
    panel.get_by_text(re.compile("Resolved: Uphold, approved by")).wait_for()
    assert panel.get_by_role("button", name="Start review").count() == 0
    assert panel.get_by_role("button", name=re.compile("^Use ")).count() == 0  # reason fixed
    tab.screenshot(path=str(ARTIFACTS / "resolved-thread.png"))

    # The alert says it was handled; the proposer has a direct message.
    as_person(page, emulator, "U0SUPER", "C0SUPERVISORS")
    page.locator("#messages .msg", has_text="Handled:").last.wait_for()
    as_person(page, emulator, "U0MANAGER1", "D0MANAGER1")
    page.locator("#messages .msg", has_text="approved your Proposal 1").wait_for()


def test_request_changes_asks_why_and_the_proposer_reads_the_reason(
    page: Any, emulator: EmulatorServer
) -> None:
    as_person(page, emulator, "U0MANAGER1")
    composer = page.get_by_label("Message")
    composer.fill("/dispute open ORD-1014 damaged the strap tore")
    composer.press("Enter")
    thread = open_thread(page, "ORD-1014")
    propose_outside_policy(page, thread, "goodwill")

    as_person(page, emulator, "U0SUPER")
    thread = open_thread(page, "ORD-1014")
    thread.get_by_role("button", name="Request changes").click()
    modal = page.locator("#modal")
    modal.get_by_text("What should change?").wait_for()
    modal.locator('[data-block-id="reason"] textarea').fill("Offer store credit: see 4.2")
    modal.locator("#modal-submit").click()
    modal.wait_for(state="hidden")
    thread.get_by_text("Offer store credit: see 4.2").wait_for()

    as_person(page, emulator, "U0MANAGER1", "D0MANAGER1")
    told = page.locator("#messages .msg", has_text="asked for changes to your Proposal 1")
    told.wait_for()
    assert "Offer store credit: see 4.2" in told.inner_text()
