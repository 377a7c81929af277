"""The sandbox page over HTTP: the state it reads, the plain view and transcript, a person's DM
and Home tab, and the customer's inbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.page.transcript import render_transcript
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from tests.support.emulator import Receiver, header


async def test_state_plain_page_and_transcript_show_threads_with_text_escaped(
    ws: Workspace, http: httpx.AsyncClient
) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    parent = ws.post_message(
        "C0DISPUTES",
        text="fallback",
        blocks=[
            header("D-7 <refund>"),
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Order* ORD-1"}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "approve",
                        "text": {"type": "plain_text", "text": "Approve"},
                    }
                ],
            },
        ],
    )
    ws.post_message(
        "C0DISPUTES", text="<script>alert(1)</script>", thread_ts=parent.ts, user="U0AGENT"
    )
    ws.post_ephemeral("C0DISPUTES", "U0MANAGER1", text="just for Max")

    state = (await http.get("/_sandbox/state")).json()
    disputes = next(c for c in state["channels"] if c["id"] == "C0DISPUTES")
    assert [r["text"] for r in disputes["messages"][0]["thread"]] == ["<script>alert(1)</script>"]
    assert state["ephemerals"][0]["user"] == "U0MANAGER1"

    page = await http.get("/_sandbox/plain")
    html = page.text
    assert page.headers["content-type"].startswith("text/html")
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<h3>D-7 &lt;refund&gt;</h3>" in html
    assert "<b>Order</b> ORD-1" in html
    assert 'class="thread"' in html
    assert html.index("D-7") < html.index('class="thread"') < html.index("&lt;script&gt;")
    assert "just for Max" in html

    transcript = render_transcript(ws)
    assert "Dispute Desk: D-7 <refund> | *Order* ORD-1 | [Approve]" in transcript
    assert "↳" in transcript and "Ana Agent: <script>alert(1)</script>" in transcript


async def test_the_page_shows_a_person_only_their_own_dm(
    ws: Workspace, http: httpx.AsyncClient
) -> None:
    ws.post_message(ws.dm_channel("U0MANAGER1").id, text="for Max only")
    mine = (await http.get("/_sandbox/state?user=U0MANAGER1&channel=D0MANAGER1")).json()
    assert mine["dm"] == "D0MANAGER1" and mine["is_dm"] is True
    assert [m["text"] for m in mine["messages"]] == ["for Max only"]
    assert "D0MANAGER1" not in {c["id"] for c in mine["channels"]}
    # Someone else asking for Max's DM sees their own (empty) one.
    theirs = (await http.get("/_sandbox/state?user=U0AGENT&channel=D0MANAGER1")).json()
    assert theirs["channel"] == "D0AGENT" and theirs["messages"] == []
    page = (await http.get("/?user=U0MANAGER1")).text
    assert "Direct messages" in page and "Customer inbox" in page and "Home" in page


async def test_opening_home_sends_app_home_opened_and_shows_the_published_view(
    ws: Workspace,
    server: EmulatorServer,
    driver: SlackDriver,
    receiver: Receiver,
    http: httpx.AsyncClient,
    client: AsyncWebClient,
) -> None:
    no_app = await http.post("/_sandbox/ui/home", json={"user": "U0MANAGER1"})
    assert no_app.json()["error"] == "no_app"
    server.attach_driver(driver)
    resp = await http.post("/_sandbox/ui/home", json={"user": "U0MANAGER1"})
    assert resp.json() == {"ok": True, "status": 200}
    assert receiver.requests[-1]["valid"] is True
    envelope = json.loads(receiver.requests[-1]["body"])
    assert envelope["type"] == "event_callback"
    event = envelope["event"]
    assert event["type"] == "app_home_opened"
    assert (event["user"], event["channel"], event["tab"]) == ("U0MANAGER1", "D0MANAGER1", "home")
    assert "view" not in event
    before = ws.version
    await client.views_publish(
        user_id="U0MANAGER1", view={"type": "home", "blocks": [header("Dispute Desk")]}
    )
    assert ws.version > before  # the page's event stream sees it
    state = (await http.get("/_sandbox/state?user=U0MANAGER1")).json()
    assert state["home"]["blocks"] == [header("Dispute Desk")]
    assert (await http.get("/_sandbox/state?user=U0AGENT")).json()["home"] is None
    # Opening it again carries the view published before, as Slack does.
    await http.post("/_sandbox/ui/home", json={"user": "U0MANAGER1"})
    assert json.loads(receiver.requests[-1]["body"])["event"]["view"]["type"] == "home"


class FakeMail:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


class FakeMailbox:
    def __init__(self, messages: list[Any]) -> None:
        self.messages = messages


async def test_the_customer_inbox_shows_mail_newest_first_escaped_with_safe_links(
    server: EmulatorServer, http: httpx.AsyncClient
) -> None:
    empty = await http.get("/customer")
    assert empty.status_code == 200
    assert "No mailbox: run <code>dispute-desk demo</code>" in empty.text
    server.attach_mailbox(
        FakeMailbox(
            [
                FakeMail(
                    sender="desk@shop.example",
                    recipients=["jo@customer.example"],
                    subject="Your return <D-1>",
                    body=(
                        "Hello <script>alert(1)</script>\n"
                        "Track it: https://shop.example/r/D-1?a=1&b=2.\n"
                        'Not a link: javascript:alert(1) "https://x.example/"><img>'
                    ),
                    received_at=datetime(2025, 1, 2, 9, 30, tzinfo=UTC),
                ),
                {
                    "sender": "desk@shop.example",
                    "to": ("kim@customer.example",),
                    "subject": "Refund sent",
                    "body": "Newest one.",
                    "received_at": "2025-01-03T10:00:00+00:00",
                },
                {"subject": "odd one", "received_at": None},
            ]
        )
    )
    page = (await http.get("/customer")).text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Your return &lt;D-1&gt;" in page
    assert '<a href="https://shop.example/r/D-1?a=1&amp;b=2" ' in page  # the "." stays outside
    assert "<img>" not in page and 'href="javascript' not in page
    assert '<a href="https://x.example/"' in page
    assert page.index("Refund sent") < page.index("Your return") < page.index("odd one")
    assert "kim@customer.example" in page and "jo@customer.example" in page
    assert "2025-01-02 09:30:00+00:00" in page
    assert "Start the demo to reply as the customer" in page
    assert "<form" not in page
