"""Finding a thread part the app posted, by its metadata, against the emulator over HTTP: the
parent among more messages than one page of history, the cards among a thread's replies, and
nothing that only looks like one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from handlers.slack_client import LimitedWebClient, retry_after
from handlers.slack_limits import RateGate
from handlers.thread_marks import (
    PAGE,
    mark,
    marked_parent,
    part_of,
    posted_cards,
    posted_parent,
)
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace

CHANNEL = "C0DISPUTES"


@pytest.fixture
async def slack() -> AsyncIterator[tuple[Workspace, LimitedWebClient]]:
    workspace = Workspace.default()
    workspace.join(CHANNEL, "U0BOT")
    async with EmulatorServer(workspace) as server:
        client = LimitedWebClient(
            gate=RateGate(retry_after, max_wait=5),
            token=workspace.bot_token,
            base_url=server.api_url,
        )
        try:
            yield workspace, client
        finally:
            await client.aclose()


async def test_the_parent_is_found_beyond_the_first_page_of_history(
    slack: tuple[Workspace, LimitedWebClient],
) -> None:
    workspace, client = slack
    opened = datetime.now(UTC)
    posted = await client.chat_postMessage(channel=CHANNEL, text="D-7", metadata=mark(7, "parent"))
    await client.chat_postMessage(channel=CHANNEL, text="D-8", metadata=mark(8, "parent"))
    for n in range(PAGE + 20):  # newer than the parent: it is on the second page
        workspace.post_message(CHANNEL, text=f"chatter {n}", user="U0AGENT")
    assert await posted_parent(client, CHANNEL, 7, opened) == posted["ts"]
    assert await posted_parent(client, CHANNEL, 9, opened) is None
    assert len(workspace.calls_to("conversations.history")) == 4  # two pages, twice


async def test_cards_are_found_in_the_thread_by_dispute_and_part(
    slack: tuple[Workspace, LimitedWebClient],
) -> None:
    _, client = slack
    parent = await client.chat_postMessage(channel=CHANNEL, text="D-7", metadata=mark(7, "parent"))
    thread = str(parent["ts"])

    async def reply(**kw: object) -> str:
        return str((await client.chat_postMessage(channel=CHANNEL, thread_ts=thread, **kw))["ts"])

    evidence = await reply(text="evidence", metadata=mark(7, "evidence"))
    await reply(text="again", metadata=mark(7, "evidence"))  # the first one counts
    await reply(text="not ours", metadata={"event_type": "other", "event_payload": {}})
    await reply(text="another dispute's", metadata=mark(8, "policy"))
    await reply(text="a person's reply")
    assert await posted_cards(client, CHANNEL, thread, 7) == {"evidence": evidence}


async def test_a_thread_is_known_by_its_parents_mark_when_the_app_posted_it(
    slack: tuple[Workspace, LimitedWebClient], caplog: pytest.LogCaptureFixture
) -> None:
    workspace, client = slack
    bot = workspace.bot_user_id
    parent = await client.chat_postMessage(channel=CHANNEL, text="D-7", metadata=mark(7, "parent"))
    thread = str(parent["ts"])
    card = await client.chat_postMessage(
        channel=CHANNEL, thread_ts=thread, text="card", metadata=mark(7, "evidence")
    )
    for _ in range(3):  # newer messages around it change nothing
        workspace.post_message(CHANNEL, text="chatter", user="U0AGENT")
    assert await marked_parent(client, CHANNEL, thread, bot) == 7

    # A person's message (or another app's) with the same mark names no dispute; nor does a
    # card, a message without a mark, or a ts where there is no message.
    forged = workspace.post_message(CHANNEL, text="D-9", user="U0AGENT", metadata=mark(9, "parent"))
    plain = await client.chat_postMessage(channel=CHANNEL, text="a digest")
    for ts in (forged.ts, str(card["ts"]), str(plain["ts"]), "1700000000.000100"):
        assert await marked_parent(client, CHANNEL, ts, bot) is None
    assert await marked_parent(client, CHANNEL, thread, "U0SOMEONE") is None

    workspace.arm_error("conversations.history", "missing_scope")
    assert await marked_parent(client, CHANNEL, thread, bot) is None
    assert f"could not look for the message at {thread} in Slack (missing_scope)" in caplog.text


def test_only_the_apps_own_marks_are_read_as_thread_parts() -> None:
    assert part_of({"metadata": mark(3, "policy")}) == (3, "policy")
    for metadata in (
        None,
        "dispute_desk_thread_part",
        {"event_type": "something_else", "event_payload": {"dispute": 3, "part": "policy"}},
        {"event_type": "dispute_desk_thread_part", "event_payload": ["3", "policy"]},
        {"event_type": "dispute_desk_thread_part", "event_payload": {"dispute": "3"}},
        {"event_type": "dispute_desk_thread_part", "event_payload": {"part": "policy"}},
    ):
        assert part_of({"metadata": metadata}) is None
