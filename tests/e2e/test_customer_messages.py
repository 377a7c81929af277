"""Writing to the customer from the thread, the way Slack talks to the app: "Message customer"
opens the composer, picking a template renders it in place, "Send" queues it, and the thread
shows it (address masked) once the customer channel delivered it; "Show message" opens it in
full. A template the dispute lacks a fact for is refused on its field; a guest is refused."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bot.demo_world import click_for_modal, find_reply, thread_of
from sandbox.slack.driver import SlackDriver
from sandbox.slack.records import User, View
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from tests.support.app_process import AppProcess, app_process

ORDER = "ORD-1001"
CUSTOMER = "maya.thompson@example.com"  # ORD-1001's customer
MASKED = "m•••@example.com"
AGENT, GUEST = "U0AGENT", "U0GUEST2"


@pytest.fixture(scope="module")
def messages_app(
    emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppProcess]:
    with app_process(
        tmp_path_factory.mktemp("messages"), emulator.api_url, CUSTOMER_CHANNEL="log"
    ) as app:
        yield app


@pytest.fixture
async def slack(messages_app: AppProcess, emulator: EmulatorServer) -> AsyncIterator[SlackDriver]:
    async with SlackDriver(
        messages_app.url, messages_app.secret, emulator.workspace, emulator.base_url
    ) as driver:
        yield driver


@pytest.fixture(scope="module", autouse=True)
def guest(workspace: Workspace) -> str:
    workspace.add_user(User(GUEST, "gia", "Gia Guest", email="gia@elsewhere.example"))
    workspace.channel("C0DISPUTES").members.add(GUEST)
    return GUEST


@pytest.fixture
async def opened(slack: SlackDriver, workspace: Workspace) -> None:
    """D-1 on ORD-1001, its thread posted (once for the module: opening again changes nothing)."""
    if find_reply(workspace, ORDER, "customer.compose") is None:
        await slack.command(f"open {ORDER} damaged the lid is cracked", user="U0MANAGER1")
    await eventually(lambda: find_reply(workspace, ORDER, "customer.compose"), within=20)


def element(view: View, prefix: str) -> tuple[str, dict[str, Any]]:
    """The block id and element of the composer's input named `prefix`."""
    for block in view.view["blocks"]:
        if block.get("type") == "input" and block["block_id"].startswith(f"{prefix}."):
            return block["block_id"], block["element"]
    raise LookupError(f"the composer has no {prefix} input")


def template_options(view: View) -> list[str]:
    _, select = element(view, "template")
    options = list(select.get("options") or [])
    for group in select.get("option_groups") or []:
        options += group["options"]
    return [option["value"] for option in options]


async def compose(slack: SlackDriver, ws: Workspace, user: str) -> View:
    card = await eventually(lambda: find_reply(ws, ORDER, "customer.compose"))
    view = await click_for_modal(slack, ws, user, "customer.compose", card)
    assert view.view["title"]["text"] == "Message customer"
    return view


async def pick(slack: SlackDriver, ws: Workspace, user: str, view: View, key: str) -> View:
    """Pick a template in the composer; the composer once it shows it."""
    await slack.block_action("customer.template", user=user, view_id=view.id, selected=key)

    def shows_it() -> View | None:
        now = ws.find_view(view.id)
        _, select = element(now, "template")
        return now if select.get("initial_option", {}).get("value") == key else None

    return await eventually(shows_it)


def sent_replies(ws: Workspace) -> list[Any]:
    return [m for m in thread_of(ws, ORDER) if "Sent to the customer" in json.dumps(m.blocks)]


def queued_rows(app: AppProcess) -> int:
    with sqlite3.connect(app.database) as db:
        return int(db.execute("SELECT count(*) FROM customer_messages").fetchone()[0])


@pytest.mark.usefixtures("opened")
async def test_a_message_is_composed_sent_and_mirrored_in_the_thread(
    slack: SlackDriver, workspace: Workspace, messages_app: AppProcess
) -> None:
    view = await compose(slack, workspace, AGENT)
    assert f"&lt;{CUSTOMER}&gt;" in json.dumps(view.view["blocks"])  # an agent sees the customer
    for key in reversed([k for k in template_options(view) if k.startswith("general:")]):
        view = await pick(slack, workspace, AGENT, view, key)
        if any(b["block_id"].startswith("body.") for b in view.view["blocks"] if "block_id" in b):
            break  # a general template this dispute has every fact for
    subject_block, subject = element(view, "subject")
    body_block, body = element(view, "body")
    assert subject.get("initial_value") and body.get("initial_value")

    seen = len(workspace.ephemerals_for(AGENT))
    typed = body["initial_value"] + "\n\nP.S. <!channel> & *thanks*"
    answer = await slack.view_submission(
        {
            subject_block: {"subject": subject["initial_value"]},
            body_block: {"body": typed},
        },
        user=AGENT,
        view_id=view.id,
    )
    assert answer.status_code == 200 and answer.content in (b"", b"null")
    told = await eventually(lambda: workspace.ephemerals_for(AGENT)[seen:])
    assert told[0].text.startswith(":envelope: Queued for the customer: ")

    mirror = await eventually(lambda: sent_replies(workspace), within=20)
    shown = json.dumps(mirror[0].blocks, ensure_ascii=False)
    assert MASKED in shown and CUSTOMER not in shown
    assert "customer message D-1 [message] to m•••@example.com" in messages_app.output()

    shown_full = await click_for_modal(slack, workspace, AGENT, "customer.show", mirror[0])
    full = json.dumps(shown_full.view["blocks"], ensure_ascii=False)
    assert "P.S. &lt;!channel&gt; &amp; *thanks*" in full and CUSTOMER in full

    # Someone who may not see the customer is refused the message, in one sentence to them.
    seen = len(workspace.ephemerals_for(GUEST))
    await slack.block_action("customer.show", user=GUEST, message_ts=mirror[0].ts)
    refused = await eventually(lambda: workspace.ephemerals_for(GUEST)[seen:])
    assert refused[0].text.startswith("You cannot see the customer details of D-1")
    assert workspace.top_view(GUEST) is None


@pytest.mark.usefixtures("opened")
async def test_a_template_the_dispute_lacks_a_fact_for_is_refused(
    slack: SlackDriver, workspace: Workspace, messages_app: AppProcess
) -> None:
    view = await compose(slack, workspace, AGENT)
    notices = [key for key in template_options(view) if key.startswith("notice:")]
    assert notices, "the policy's rules for this dispute offer no notice"
    # A rule's notice says what was decided: nothing has been proposed yet.
    view = await pick(slack, workspace, AGENT, view, notices[0])
    assert "does not have yet" in json.dumps(view.view["blocks"])
    with pytest.raises(LookupError):
        element(view, "body")

    before = queued_rows(messages_app)
    template_block, _ = element(view, "template")
    shown_as_is = {template_block: {"customer.template": notices[0]}}  # what Slack sends
    answer = await slack.view_submission(shown_as_is, user=AGENT, view_id=view.id)
    refused = answer.json()
    assert refused["response_action"] == "errors"
    [(where, why)] = refused["errors"].items()
    assert where.startswith("template.") and "cannot be written" in why
    assert queued_rows(messages_app) == before


@pytest.mark.usefixtures("opened")
async def test_a_guest_cannot_message_the_customer(
    slack: SlackDriver, workspace: Workspace
) -> None:
    seen = len(workspace.ephemerals_for(GUEST))
    card = await eventually(lambda: find_reply(workspace, ORDER, "customer.compose"))
    await slack.block_action("customer.compose", user=GUEST, message_ts=card.ts)
    refused = await eventually(lambda: workspace.ephemerals_for(GUEST)[seen:])
    assert refused[0].text.startswith("You cannot message the customer of D-1")
    assert workspace.top_view(GUEST) is None
