"""The supervisors' digest in the browser: a dispute nobody answered in time shows up in the
supervisors' channel with its owner; a manager takes it and snoozes it from the digest, and
the digest and the thread show both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from tests.browser.conftest import ARTIFACTS, ROLES
from tests.browser.test_journeys import as_person
from tests.support.app_process import AppProcess, app_process

# A first response is due four seconds after a dispute opens; nothing counts as high.
SLA = """
timezone: UTC
business_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
warn_at: 0.99
priorities:
  - {name: normal}
targets:
  normal: {business: false, first_response: 4s, in_review: 1h, awaiting_approval: 1h,
           awaiting_customer: 1d, executing: 1h}
"""


@pytest.fixture(scope="module")
def app(emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    tmp = tmp_path_factory.mktemp("alerts-app")
    (tmp / "roles.yml").write_text(ROLES)
    (tmp / "sla.yml").write_text(SLA)
    with app_process(
        tmp,
        emulator.api_url,
        ROLES_FILE=str(tmp / "roles.yml"),
        SLA_FILE=str(tmp / "sla.yml"),
        SUPERVISORS_CHANNEL="#dispute-supervisors",
        ALERT_SCAN_EVERY="1",
        ALERT_SUMMARY_AT="",
    ) as running:
        emulator.attach_driver(
            SlackDriver(running.url, running.secret, emulator.workspace, emulator.base_url)
        )
        yield running
        emulator.attach_driver(None)


def test_a_manager_takes_and_snoozes_a_late_dispute_from_the_digest(
    page: Any, emulator: EmulatorServer
) -> None:
    as_person(page, emulator, "U0AGENT")
    composer = page.get_by_label("Message")
    composer.fill("/dispute open ORD-1002 damaged the handle snapped")
    composer.press("Enter")
    page.locator("#messages .ephemeral", has_text="Opened D-").wait_for()

    as_person(page, emulator, "U0MANAGER1", "C0SUPERVISORS")
    digest = page.locator("#messages .msg", has_text="Bottlenecks").last
    digest.get_by_text("First response overdue").wait_for()
    assert "Owner: nobody" in digest.inner_text()
    digest.get_by_role("button", name="Take").click()
    digest.get_by_text("Owner: @Max Manager").wait_for()

    digest.get_by_role("button", name="Snooze").click()
    digest.get_by_text("Snoozed by @Max Manager").wait_for()
    assert digest.get_by_role("button", name="Take").count() == 0
    assert "back from a snooze" not in digest.inner_text()  # only once it is sent again
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "supervisor-digest.png"))

    as_person(page, emulator, "U0MANAGER1")
    parent = page.locator("#messages .msg", has_text="ORD-1002").first
    parent.get_by_text("Owner: @Max Manager").wait_for()
    assert "overdue" in parent.inner_text()
