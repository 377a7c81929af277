"""Events: App Home is published, and Slack's retries of an event are processed once."""

from __future__ import annotations

import asyncio
import json
import sqlite3

from sandbox.blockkit import validate_view
from sandbox.driver import SlackDriver
from sandbox.waiting import eventually
from sandbox.workspace import Workspace
from tests.support.app_process import AppProcess

HOME = {"type": "app_home_opened", "user": "U0SUPER", "channel": "D0SUPER", "tab": "home"}


async def test_app_home_lists_open_disputes(slack: SlackDriver, workspace: Workspace) -> None:
    await slack.command("open ORD-1012 defective stopped working", user="U0SUPER")
    await eventually(lambda: any("ORD-1012" in m.text for m in workspace.history("C0DISPUTES")))
    response = await slack.event(HOME)
    assert response.status_code == 200
    view = await eventually(lambda: workspace.home_views.get("U0SUPER"))
    rendered = json.dumps(view.view, ensure_ascii=False)
    assert "ORD-1012 · Defective" in rendered
    assert validate_view(view.view) == []


async def test_event_retries_are_processed_once(slack: SlackDriver, workspace: Workspace) -> None:
    before = len(workspace.calls_to("views.publish"))
    first = await slack.event(HOME, event_id="Ev0RETRY1")
    await eventually(lambda: len(workspace.calls_to("views.publish")) == before + 1)
    retries = [await slack.event(HOME, event_id="Ev0RETRY1", retry_num=n) for n in (1, 2, 3)]
    assert first.status_code == 200
    assert [(r.status_code, r.content) for r in retries] == [(200, b"")] * 3
    fresh = await slack.event(HOME, event_id="Ev0FRESH1")
    assert fresh.status_code == 200
    await eventually(lambda: len(workspace.calls_to("views.publish")) == before + 2)
    assert len(workspace.calls_to("views.publish")) == before + 2


async def test_files_dropped_into_a_thread_become_evidence(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    await slack.command("open ORD-1013 wrong item engraving", user="U0MANAGER1")
    parent = await eventually(
        lambda: next((m for m in workspace.history("C0DISPUTES") if "ORD-1013" in m.text), None)
    )
    await eventually(lambda: len(workspace.thread("C0DISPUTES", parent.ts)) >= 3)
    photo = {
        "id": "F0PHOTO",
        "name": "engraving.jpg",
        "mimetype": "image/jpeg",
        "size": 2048,
        "permalink": "https://sandbox.slack.example/files/F0PHOTO",
    }
    receipt = {
        "id": "F0PDF",
        "name": "receipt.pdf",
        "mimetype": "application/pdf",
        "permalink": "https://sandbox.slack.example/files/F0PDF",
    }
    message = {
        "type": "message",
        "subtype": "file_share",
        "channel": "C0DISPUTES",
        "user": "U0MANAGER1",
        "text": "photos",
        "ts": "1795690000.000100",
        "thread_ts": parent.ts,
        "files": [photo, receipt],
    }
    assert (await slack.event(message)).status_code == 200

    def filed() -> list[tuple[str, str]]:
        with sqlite3.connect(app.database) as db:
            return db.execute(
                "SELECT kind, url FROM evidence_items WHERE source = 'slack:U0MANAGER1'"
            ).fetchall()

    rows = await eventually(lambda: len(filed()) == 2 and filed())
    assert sorted(rows) == [
        ("ATTACHMENT", receipt["permalink"]),
        ("PROOF_OF_DAMAGE", photo["permalink"]),
    ]
    card = workspace.thread("C0DISPUTES", parent.ts)[1]
    await eventually(lambda: card.edited is not None)
    assert "engraving.jpg" in json.dumps(card.blocks)
    # A message without files, or outside a dispute thread, changes nothing.
    await slack.event({**message, "files": [], "ts": "1795690000.000200"})
    await slack.event({**message, "thread_ts": "1.000001", "ts": "1795690000.000300"})
    await asyncio.sleep(0.5)
    assert len(filed()) == 2
