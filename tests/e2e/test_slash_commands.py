"""`/dispute` end to end: signed HTTP requests into the app process, Web API calls out."""

from __future__ import annotations

import json
import sqlite3
import time
from urllib.parse import urlencode

import httpx

from sandbox.slack.blockkit import validate_message
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Message, Workspace
from sandbox.waiting import eventually
from tests.support.app_process import AppProcess, app_process

CHANNEL = "C0DISPUTES"


def parents(ws: Workspace, order_id: str) -> list[Message]:
    return [m for m in ws.history(CHANNEL) if f"· {order_id} ·" in m.text]


def ephemeral_texts(ws: Workspace, user: str) -> list[str]:
    return [e.text for e in ws.ephemerals_for(user)]


def new_ephemeral(ws: Workspace, user: str, seen: int, needle: str) -> str | None:
    return next((t for t in ephemeral_texts(ws, user)[seen:] if needle in t), None)


def dispute_count(app: AppProcess) -> int:
    with sqlite3.connect(app.database) as connection:
        return connection.execute("SELECT count(*) FROM disputes").fetchone()[0]


FORM = "application/x-www-form-urlencoded"


def command_body(
    slack: SlackDriver, workspace: Workspace, text: str, user: str
) -> tuple[bytes, int]:
    """A slash command's form body and timestamp, to send more than once."""
    fields = {
        "command": "/dispute",
        "text": text,
        "user_id": user,
        "channel_id": CHANNEL,
        "team_id": "T0SANDBOX",
        "api_app_id": "A0SANDBOX",
        "trigger_id": workspace.mint_trigger(user),
        "response_url": f"{slack.emulator_url}/_sandbox/response/"
        + workspace.mint_response_url(CHANNEL, user),
    }
    return urlencode(fields).encode(), int(time.time())


def ack_text(response: httpx.Response) -> str:
    return response.json().get("text", "") if response.content else ""


async def test_open_posts_parent_and_evidence_card_then_updates_status(
    slack: SlackDriver, workspace: Workspace
) -> None:
    seen = len(ephemeral_texts(workspace, "U0MANAGER1"))
    response = await slack.command("open ORD-1001 damaged the box was crushed")
    assert response.status_code == 200
    assert response.json() == {
        "response_type": "ephemeral",
        "text": "Opening a dispute for ORD-1001…",
    }

    (parent,) = await eventually(lambda: parents(workspace, "ORD-1001"))
    assert parent.text.startswith("D-") and "ORD-1001 · Damaged" in parent.text
    thread = await eventually(
        lambda: (
            len(workspace.thread(CHANNEL, parent.ts)) >= 2 and workspace.thread(CHANNEL, parent.ts)
        )
    )
    card = thread[1]
    assert card.thread_ts == parent.ts
    card_text = json.dumps(card.blocks, ensure_ascii=False)
    for expected in (
        "Evidence · D-",
        "*Order*",
        "*Payment*",
        "*Outbound shipment*",
        "*Return request*",
        "*Condition report*",
        "*Photos*",
        "*Correspondence*",
        "Checklist",
        "Original decision",
        "returns.example.com/photos/ORD-1001",
    ):
        assert expected in card_text, expected
    assert validate_message(card.text, card.blocks) == []

    # The first post says New; once the card is up the parent is edited to Evidence ready.
    first_post = workspace.calls_to("chat.postMessage")[0]
    assert first_post["text"].endswith("· New")
    updated = await eventually(lambda: "Evidence ready" in parent.text and parent)
    assert updated.edited is not None

    await eventually(lambda: new_ephemeral(workspace, "U0MANAGER1", seen, "Opened"))
    reply = workspace.ephemerals_for("U0MANAGER1")[-1]
    assert "/archives/C0DISPUTES/p" + parent.ts.replace(".", "") in json.dumps(reply.blocks)


async def test_opened_answers_link_their_threads_with_one_permalink_asked_at_most(
    slack: SlackDriver, workspace: Workspace
) -> None:
    """The first link a process gives shows how Slack writes them; the next are built so."""
    asked = len(workspace.calls_to("chat.getPermalink"))
    for order_id in ("ORD-1007", "ORD-1009"):
        seen = len(ephemeral_texts(workspace, "U0MANAGER1"))
        await slack.command(f"open {order_id} damaged crushed")
        (parent,) = await eventually(lambda o=order_id: parents(workspace, o))
        await eventually(lambda s=seen: new_ephemeral(workspace, "U0MANAGER1", s, "Opened"))
        reply = workspace.ephemerals_for("U0MANAGER1")[-1]
        assert "/archives/C0DISPUTES/p" + parent.ts.replace(".", "") in json.dumps(reply.blocks)
    assert len(workspace.calls_to("chat.getPermalink")) - asked <= 1


async def test_show_answers_with_summary_and_thread_link(
    slack: SlackDriver, workspace: Workspace
) -> None:
    await slack.command("open ORD-1002")
    (parent,) = await eventually(lambda: parents(workspace, "ORD-1002"))
    number = parent.text.split(" ")[0]
    seen = len(ephemeral_texts(workspace, "U0MANAGER2"))
    response = await slack.command(f"show {number.lower()}", user="U0MANAGER2")
    assert response.status_code == 200
    summary = await eventually(lambda: new_ephemeral(workspace, "U0MANAGER2", seen, number))
    assert "ORD-1002" in summary
    blocks = workspace.ephemerals_for("U0MANAGER2")[-1].blocks
    assert "/archives/C0DISPUTES/p" + parent.ts.replace(".", "") in json.dumps(blocks)


async def test_help_lists_every_subcommand(slack: SlackDriver) -> None:
    response = await slack.command("help")
    body = response.json()
    assert body["response_type"] == "ephemeral"
    text = json.dumps(body["blocks"])
    for usage in ("/dispute open ORDER-ID", "/dispute show D-", "/dispute help"):
        assert usage in text
    assert validate_message(body["text"], body["blocks"]) == []


async def test_second_open_for_the_same_order_points_to_the_existing_thread(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    await slack.command("open ORD-1003", user="U0AGENT")
    (parent,) = await eventually(lambda: parents(workspace, "ORD-1003"))
    await eventually(lambda: "Evidence ready" in parent.text or "New" in parent.text)
    before = dispute_count(app)
    seen = len(ephemeral_texts(workspace, "U0MANAGER2"))
    await slack.command("open ORD-1003 defective again", user="U0MANAGER2")
    answer = await eventually(
        lambda: new_ephemeral(workspace, "U0MANAGER2", seen, "already has an open dispute")
    )
    assert parent.text.split(" ")[0] in answer
    blocks = workspace.ephemerals_for("U0MANAGER2")[-1].blocks
    assert parent.ts.replace(".", "") in json.dumps(blocks)
    assert dispute_count(app) == before
    assert len(parents(workspace, "ORD-1003")) == 1


async def test_bad_input_answers_at_once_and_creates_nothing(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    before_disputes, before_posts = dispute_count(app), len(workspace.history(CHANNEL))
    cases = {
        "refund ORD-1001": "is not a `/dispute` command",
        "open": "Which order?",
        "open ORD<1001>": "is not an order id",
        "show": "Which dispute?",
        "show banana": "is not a dispute number",
    }
    for text, says in cases.items():
        response = await slack.command(text)
        assert response.status_code == 200
        assert response.json()["response_type"] == "ephemeral"
        assert says in ack_text(response), text
    assert (dispute_count(app), len(workspace.history(CHANNEL))) == (before_disputes, before_posts)


async def test_unknown_order_and_unknown_dispute_get_one_clear_answer(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    before = dispute_count(app)
    seen = len(ephemeral_texts(workspace, "U0SUPER"))
    await slack.command("open ORD-9999 damaged", user="U0SUPER")
    answer = await eventually(lambda: new_ephemeral(workspace, "U0SUPER", seen, "ORD-9999"))
    assert "has no order ORD-9999" in answer and "no dispute was created" in answer
    await slack.command("show D-404", user="U0SUPER")
    answer = await eventually(lambda: new_ephemeral(workspace, "U0SUPER", seen, "D-404"))
    assert answer.startswith("There is no dispute D-404")
    assert dispute_count(app) == before
    assert len(ephemeral_texts(workspace, "U0SUPER")) == seen + 2  # one answer each


async def test_bad_signature_and_stale_timestamp_get_401_and_change_nothing(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    before = dispute_count(app), len(workspace.history(CHANNEL)), len(workspace.calls)
    body = urlencode(
        {
            "command": "/dispute",
            "text": "open ORD-1005",
            "user_id": "U0MANAGER1",
            "channel_id": CHANNEL,
            "team_id": "T0SANDBOX",
            "response_url": "http://127.0.0.1:9/none",
            "trigger_id": "1.2.3",
        }
    ).encode()
    forged = await slack.send(body, FORM, secret="not-the-secret")
    stale = await slack.send(body, FORM, timestamp=int(time.time()) - 6 * 60)
    unsigned = await httpx.AsyncClient().post(
        app.url + "/slack/events", content=body, headers={"Content-Type": FORM}
    )
    assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)
    assert (dispute_count(app), len(workspace.history(CHANNEL)), len(workspace.calls)) == before


async def test_a_replayed_request_is_processed_once(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    body, stamp = command_body(slack, workspace, "open ORD-1006", "U0MANAGER1")
    first = await slack.send(body, FORM, timestamp=stamp)
    replay = await slack.send(body, FORM, timestamp=stamp)
    retry = await slack.send(body, FORM, timestamp=stamp, headers={"X-Slack-Retry-Num": "1"})
    assert "Opening a dispute" in ack_text(first)
    assert (replay.status_code, replay.content, retry.content) == (200, b"", b"")
    await eventually(lambda: parents(workspace, "ORD-1006"))
    await eventually(
        lambda: any(
            "Opened" in t and "ORD-1006" in t for t in ephemeral_texts(workspace, "U0MANAGER1")
        )
    )
    texts = [t for t in ephemeral_texts(workspace, "U0MANAGER1") if "ORD-1006" in t]
    assert not any("already has an open dispute" in t for t in texts)
    assert len(parents(workspace, "ORD-1006")) == 1


async def test_order_system_unreachable_is_reported_and_creates_nothing(
    emulator: EmulatorServer, tmp_path
) -> None:
    from tests.support.postgres import free_port

    dead = f"http:http://127.0.0.1:{free_port()}"
    with app_process(tmp_path, emulator.api_url, ORDER_SOURCE=dead) as app:
        async with SlackDriver(app.url, app.secret, emulator.workspace, emulator.base_url) as s:
            ws = emulator.workspace
            seen = len(ephemeral_texts(ws, "U0AGENT"))
            await s.command("open ORD-1008 damaged", user="U0AGENT")
            answer = await eventually(
                lambda: new_ephemeral(ws, "U0AGENT", seen, "could not be reached"), within=30
            )
        assert "No dispute was created" in answer and "try again" in answer
        assert dispute_count(app) == 0


async def test_a_replay_to_another_replica_is_processed_once(
    slack: SlackDriver, workspace: Workspace, app: AppProcess, emulator: EmulatorServer, tmp_path
) -> None:
    """Two replicas share one database: the durable claim lets only one of them act."""
    shared = f"sqlite+aiosqlite:///{app.database}"
    with app_process(
        tmp_path, emulator.api_url, DATABASE_URL=shared, SLACK_SIGNING_SECRET=app.secret
    ) as replica:
        body, stamp = command_body(slack, workspace, "open ORD-1011", "U0MANAGER2")
        seen = len(ephemeral_texts(workspace, "U0MANAGER2"))
        first = await slack.send(body, FORM, timestamp=stamp)
        async with SlackDriver(replica.url, app.secret, workspace, slack.emulator_url) as other:
            second = await other.send(body, FORM, timestamp=stamp)
        assert first.status_code == second.status_code == 200
        await eventually(lambda: parents(workspace, "ORD-1011"))
        await eventually(lambda: new_ephemeral(workspace, "U0MANAGER2", seen, "Opened"))
        # Give the other replica time to (wrongly) act as well, then check it did not.
        await eventually(
            lambda: (
                "skipping command already processed" in replica.output()
                or "skipping command already processed" in app.output()
            ),
            within=10,
        )
        answers = [t for t in ephemeral_texts(workspace, "U0MANAGER2")[seen:] if "ORD-1011" in t]
        assert len(answers) == 1 and "Opened" in answers[0]
        assert len(parents(workspace, "ORD-1011")) == 1


async def test_a_thread_slack_holds_back_is_late_then_posted_by_itself(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    # Slack asks for a longer pause than a command waits: the opener hears the thread is late.
    workspace.arm_ratelimit("chat.postMessage", retry_after=7, times=1)
    seen = len(ephemeral_texts(workspace, "U0AGENT"))
    await slack.command("open ORD-1014 unwanted", user="U0AGENT")
    late = await eventually(lambda: new_ephemeral(workspace, "U0AGENT", seen, "is late"))
    assert "ratelimited" in late and "by itself" in late and "Nothing is lost" in late
    assert parents(workspace, "ORD-1014") == []
    # Nobody runs `/dispute show`: the thread outbox posts it once the pause is over.
    (parent,) = await eventually(lambda: parents(workspace, "ORD-1014"), within=20)
    await eventually(lambda: len(workspace.thread(CHANNEL, parent.ts)) == 3, within=10)
    assert len(ephemeral_texts(workspace, "U0AGENT")) == seen + 1  # told once
