"""Customer replies: signed posts to /api/customer-replies land in the thread and the case file,
audited as the customer; the sandbox's customer inbox sends them the same way."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest

from connectors.customers.inbound import signed_headers
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from tests.support.app_process import AppProcess, app_process
from tests.support.threads import thread_recorded

SECRET = "inbound-test-secret"
CUSTOMER = "maya.thompson@example.com"  # ORD-1001's customer


@pytest.fixture(scope="module")
def replies_app(
    emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppProcess]:
    with app_process(
        tmp_path_factory.mktemp("replies"), emulator.api_url, INBOUND_SECRET=SECRET
    ) as app:
        yield app


def post(
    app: AppProcess, payload: dict, *, secret: str = SECRET, now: float | None = None
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return httpx.post(
        app.url + "/api/customer-replies", content=body, headers=signed_headers(secret, body, now)
    )


async def opened(app: AppProcess, workspace: Workspace, emulator: EmulatorServer) -> str:
    async with SlackDriver(app.url, app.secret, workspace, emulator.base_url) as slack:
        await slack.command("open ORD-1001 damaged", user="U0MANAGER1")
    parent = await eventually(
        lambda: next((m for m in workspace.history("C0DISPUTES") if "ORD-1001" in m.text), None)
    )
    await eventually(lambda: len(workspace.thread("C0DISPUTES", parent.ts)) >= 3)
    await eventually(lambda: thread_recorded(app.database, parent.ts))
    return parent.ts


async def test_a_signed_reply_lands_in_the_thread_and_the_case_file(
    replies_app: AppProcess, workspace: Workspace, emulator: EmulatorServer
) -> None:
    thread_ts = await opened(replies_app, workspace, emulator)
    answer = post(
        replies_app, {"dispute": "D-1", "from": CUSTOMER, "body": "I still have the <crushed> box."}
    )
    assert answer.status_code == 200 and answer.json() == {"ok": True, "dispute": "D-1"}
    reply = await eventually(
        lambda: next(
            (
                m
                for m in workspace.thread("C0DISPUTES", thread_ts)
                if m.text.startswith("The customer (")
            ),
            None,
        )
    )
    assert "&lt;crushed&gt;" in json.dumps(reply.blocks)
    with sqlite3.connect(replies_app.database) as db:
        actors = db.execute(
            "SELECT actor_type, actor_id FROM audit_entries WHERE action = 'evidence.added' "
            "AND actor_type = 'customer'"
        ).fetchall()
        kinds = db.execute("SELECT kind FROM evidence_items WHERE source = 'customer-reply'")
        assert actors == [("customer", CUSTOMER)]
        assert kinds.fetchall() == [("CUSTOMER_COMMUNICATION",)]


@pytest.mark.parametrize(
    ("payload", "kw", "status", "says"),
    [
        (
            {"dispute": "D-1", "from": CUSTOMER, "body": "hi"},
            {"secret": "wrong"},
            401,
            "bad signature",
        ),
        (
            {"dispute": "D-1", "from": CUSTOMER, "body": "hi"},
            {"now": time.time() - 600},
            401,
            "bad signature",
        ),
        (
            {"dispute": "D-1", "from": "stranger@example.com", "body": "hi"},
            {},
            404,
            "no dispute D-1",
        ),
        ({"dispute": "D-999", "from": CUSTOMER, "body": "hi"}, {}, 404, "no dispute D-999"),
        ({"dispute": "seven", "from": CUSTOMER, "body": "hi"}, {}, 400, "dispute:"),
        ({"dispute": "D-1", "from": "not-an-email", "body": "hi"}, {}, 400, "from:"),
        ({"dispute": "D-1", "from": CUSTOMER, "body": "  "}, {}, 400, "body:"),
    ],
)
def test_bad_replies_are_refused_with_a_reason(
    replies_app: AppProcess, payload: dict, kw: dict, status: int, says: str
) -> None:
    answer = post(replies_app, payload, **kw)
    assert answer.status_code == status
    assert says in answer.json()["error"]


async def test_a_reply_to_a_closed_dispute_is_refused_for_the_helpdesk_to_keep(
    replies_app: AppProcess, workspace: Workspace, emulator: EmulatorServer
) -> None:
    await opened(replies_app, workspace, emulator)
    with sqlite3.connect(replies_app.database) as db:
        (status,) = db.execute("SELECT status FROM disputes WHERE number = 1").fetchone()
        db.execute("UPDATE disputes SET status = 'resolved' WHERE number = 1")
    try:
        answer = post(replies_app, {"dispute": "D-1", "from": CUSTOMER, "body": "one more thing"})
        assert answer.status_code == 409
        assert answer.json()["error"].startswith("D-1 is resolved and takes no more replies")
        assert "Keep it in your helpdesk" in answer.json()["error"]
        with sqlite3.connect(replies_app.database) as db:
            filed = db.execute("SELECT id FROM evidence_items WHERE summary LIKE '%one more%'")
            assert filed.fetchall() == []
    finally:
        with sqlite3.connect(replies_app.database) as db:
            db.execute("UPDATE disputes SET status = ? WHERE number = 1", (status,))


async def test_the_sandbox_customer_inbox_replies_through_the_app(
    replies_app: AppProcess, emulator: EmulatorServer, workspace: Workspace
) -> None:
    emulator.attach_inbound(replies_app.url, SECRET)
    try:
        async with httpx.AsyncClient(base_url=emulator.base_url) as browser:
            page = await browser.get("/customer")
            assert 'id="reply-form"' in page.text
            sent = await browser.post(
                "/customer/reply",
                data={"dispute": "D-1", "from": CUSTOMER, "body": "Any news?"},
                follow_redirects=True,
            )
        assert "Reply filed with D-1." in sent.text
        await eventually(
            lambda: any("Any news?" in m.text for m in workspace.messages.get("C0DISPUTES", []))
        )
    finally:
        emulator.attach_inbound(None)
