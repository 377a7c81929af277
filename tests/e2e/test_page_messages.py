"""People talk in a dispute's channel and thread from the sandbox page: the app, a real process,
gets each message as a signed Events API `message` event and answers it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from tests.support.app_process import AppProcess
from tests.support.threads import thread_recorded


@pytest.fixture(scope="module")
def page_driver(app: AppProcess, emulator: EmulatorServer) -> Iterator[None]:
    # The page's own driver, used from the emulator's loop, as the demo attaches one.
    emulator.attach_driver(SlackDriver(app.url, app.secret, emulator.workspace, emulator.base_url))
    yield
    emulator.attach_driver(None)


@pytest.fixture
async def page(emulator: EmulatorServer, page_driver: None) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.base_url, timeout=15) as client:
        yield client


async def test_channel_messages_and_thread_replies_reach_the_app(
    slack: SlackDriver, workspace: Workspace, app: AppProcess, page: httpx.AsyncClient
) -> None:
    await slack.command("open ORD-1010 damaged the corner was dented", user="U0MANAGER1")
    parent = await eventually(
        lambda: next((m for m in workspace.history("C0DISPUTES") if "ORD-1010" in m.text), None)
    )
    await eventually(lambda: len(workspace.thread("C0DISPUTES", parent.ts)) >= 3)
    await eventually(lambda: thread_recorded(app.database, parent.ts))

    said = await page.post(
        "/_sandbox/ui/message",
        json={"user": "U0AGENT", "channel": "C0DISPUTES", "text": "who takes ORD-1010?"},
    )
    # 200 from the app: the signature held and its message listener took the event.
    assert said.json()["ok"] is True and said.json()["status"] == 200, said.text
    assert workspace.history("C0DISPUTES")[-1].user == "U0AGENT"

    replied = await page.post(
        "/_sandbox/ui/message",
        json={
            "user": "U0SUPER",
            "channel": "C0DISPUTES",
            "text": "I will <@U0MANAGER2> & co",
            "thread_ts": parent.ts,
        },
    )
    assert replied.json()["status"] == 200, replied.text
    last = workspace.thread("C0DISPUTES", parent.ts)[-1]
    assert (last.user, last.text, last.ts) == (
        "U0SUPER",
        "I will &lt;@U0MANAGER2&gt; &amp; co",
        replied.json()["ts"],
    )
    assert "Traceback" not in app.output()

    # A slash command typed on the page still goes to the app as a command.
    command = await page.post(
        "/_sandbox/ui/command",
        json={"user": "U0MANAGER1", "channel": "C0DISPUTES", "text": "/dispute help"},
    )
    assert command.json()["status"] == 200


async def test_the_result_of_open_takes_the_place_of_opening(
    workspace: Workspace, page: httpx.AsyncClient
) -> None:
    seen = len(workspace.ephemerals_for("U0MANAGER2"))
    typed = await page.post(
        "/_sandbox/ui/command",
        json={"user": "U0MANAGER2", "channel": "C0DISPUTES", "text": "/dispute open ord-1012"},
    )
    assert typed.json()["status"] == 200, typed.text

    def answered() -> list[str] | None:
        texts = [e.text for e in workspace.ephemerals_for("U0MANAGER2")[seen:]]
        return texts if texts and not texts[-1].startswith("Opening") else None

    # One message: "Opening a dispute for ord-1012…" became the result, whichever came first.
    (only,) = await eventually(answered)
    assert only.startswith("Opened D-") and "you typed ord-1012" in only

    failed = await page.post(
        "/_sandbox/ui/command",
        json={"user": "U0MANAGER2", "channel": "C0DISPUTES", "text": "/dispute open ORD-NOPE"},
    )
    assert failed.json()["status"] == 200
    seen += 1
    (error,) = await eventually(answered)
    assert "no order ORD-NOPE" in error
