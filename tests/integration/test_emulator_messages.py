"""Messages over the Web API: posting, threads and broadcasts, edits, ephemeral messages and
permalinks."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from tests.support.emulator import header, slack_error


async def test_the_bot_posts_only_after_joining_the_channel(client: AsyncWebClient) -> None:
    refused = await slack_error(client.chat_postMessage(channel="C0DISPUTES", text="hi"))
    assert refused["error"] == "not_in_channel"
    joined = await client.conversations_join(channel="C0DISPUTES")
    assert joined["channel"]["is_member"] is True
    again = await client.conversations_join(channel="C0DISPUTES")
    assert again["warning"] == "already_in_channel"
    resp = await client.chat_postMessage(channel="#disputes", text="hello")
    assert resp["channel"] == "C0DISPUTES"
    assert resp["message"]["text"] == "hello"
    assert resp["message"]["bot_id"] == "B0BOT"


async def test_a_refused_post_leaves_the_channel_unchanged(
    ws: Workspace, client: AsyncWebClient
) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    missing = await slack_error(client.chat_postMessage(channel="#nowhere", text="hi"))
    assert missing["error"] == "channel_not_found"
    assert (await slack_error(client.chat_postMessage(channel="C0DISPUTES")))["error"] == "no_text"
    invalid = await slack_error(
        client.chat_postMessage(channel="C0DISPUTES", text="x", blocks=[header("h" * 151)])
    )
    assert invalid["error"] == "invalid_blocks"
    assert invalid["errors"] == invalid["response_metadata"]["messages"]
    assert "/blocks/0/text/text" in invalid["errors"][0]
    too_long = await slack_error(client.chat_postMessage(channel="C0DISPUTES", text="t" * 40001))
    assert too_long["error"] == "msg_too_long"
    assert ws.history("C0DISPUTES") == []


async def test_replies_gather_under_their_parent_and_broadcasts_show_in_history(
    ws: Workspace, client: AsyncWebClient
) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    parent = await client.chat_postMessage(channel="C0DISPUTES", text="D-1 opened")
    ts = parent["ts"]
    await client.chat_postMessage(channel="C0DISPUTES", text="evidence", thread_ts=ts)
    await client.chat_postMessage(
        channel="C0DISPUTES", text="resolved", thread_ts=ts, reply_broadcast=True
    )
    replies = await client.conversations_replies(channel="C0DISPUTES", ts=ts)
    assert [m["text"] for m in replies["messages"]] == ["D-1 opened", "evidence", "resolved"]
    assert replies["messages"][0]["reply_count"] == 2
    assert all(m["thread_ts"] == ts for m in replies["messages"])
    history = await client.conversations_history(channel="C0DISPUTES")
    assert [m["text"] for m in history["messages"]] == ["resolved", "D-1 opened"]
    assert history["messages"][0]["subtype"] == "thread_broadcast"
    unknown = await slack_error(
        client.chat_postMessage(channel="C0DISPUTES", text="x", thread_ts="1.000001")
    )
    assert unknown["error"] == "thread_not_found"
    no_thread = await slack_error(client.conversations_replies(channel="C0DISPUTES", ts="1.2"))
    assert no_thread["error"] == "thread_not_found"


async def test_only_the_author_may_edit_a_message(ws: Workspace, client: AsyncWebClient) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    posted = await client.chat_postMessage(channel="C0DISPUTES", text="v1")
    updated = await client.chat_update(
        channel="C0DISPUTES", ts=posted["ts"], text="v2", blocks=[header("v2")]
    )
    assert updated["text"] == "v2"
    assert updated["message"]["edited"]["user"] == "U0BOT"
    assert ws.message("C0DISPUTES", posted["ts"]).blocks == [header("v2")]
    gone = await slack_error(client.chat_update(channel="C0DISPUTES", ts="1.000001", text="x"))
    assert gone["error"] == "message_not_found"
    human = ws.post_message("C0DISPUTES", text="mine", user="U0AGENT")
    theirs = await slack_error(client.chat_update(channel="C0DISPUTES", ts=human.ts, text="x"))
    assert theirs["error"] == "cant_update_message"
    bad = await slack_error(
        client.chat_update(channel="C0DISPUTES", ts=posted["ts"], blocks=[{"type": "nope"}])
    )
    assert bad["error"] == "invalid_blocks"


async def test_an_ephemeral_message_is_seen_by_one_person_only(
    ws: Workspace, client: AsyncWebClient
) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    resp = await client.chat_postEphemeral(channel="C0DISPUTES", user="U0MANAGER1", text="psst")
    assert resp["message_ts"]
    assert [e.text for e in ws.ephemerals_for("U0MANAGER1")] == ["psst"]
    assert ws.ephemerals_for("U0AGENT") == []
    assert ws.history("C0DISPUTES") == []


async def test_a_permalink_leads_to_the_message_and_a_reply_to_its_thread(
    ws: Workspace, client: AsyncWebClient, server: EmulatorServer
) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    parent = ws.post_message("C0DISPUTES", text="p")
    reply = ws.post_message("C0DISPUTES", text="r", thread_ts=parent.ts)
    link = await client.chat_getPermalink(channel="C0DISPUTES", message_ts=parent.ts)
    assert link["permalink"] == (
        f"{server.base_url}/archives/C0DISPUTES/p{parent.ts.replace('.', '')}"
    )
    reply_link = await client.chat_getPermalink(channel="C0DISPUTES", message_ts=reply.ts)
    assert reply_link["permalink"].endswith(f"?thread_ts={parent.ts}&cid=C0DISPUTES")
