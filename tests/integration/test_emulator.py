"""The Slack emulator over real HTTP: slack_sdk's AsyncWebClient, response_urls, page, driver."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.page.transcript import render_transcript
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import SlackError, Workspace
from tests.support.emulator import TOKEN, FakeClock, Receiver, slack_error


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def modal(title: str = "Resolve", **kw: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": [], **kw}


# -- auth and routing ------------------------------------------------------------


async def test_auth_test(client: AsyncWebClient, server: EmulatorServer) -> None:
    assert server.api_url == server.base_url + "/api/"
    resp = await client.auth_test()
    assert resp["user_id"] == "U0BOT"
    assert resp["team_id"] == "T0SANDBOX"
    assert resp["bot_id"] == "B0BOT"


async def test_auth_errors(server: EmulatorServer, http: httpx.AsyncClient) -> None:
    no_token = await http.post("/api/auth.test")
    assert no_token.status_code == 200
    assert no_token.json() == {"ok": False, "error": "not_authed"}
    bad = AsyncWebClient(token="xoxb-wrong", base_url=server.api_url)
    assert (await slack_error(bad.auth_test()))["error"] == "invalid_auth"
    via_param = await http.post("/api/auth.test", data={"token": TOKEN})
    assert via_param.json()["ok"] is True


async def test_unknown_method(client: AsyncWebClient) -> None:
    assert (await slack_error(client.api_call("chat.teleport")))["error"] == "unknown_method"


async def test_ratelimit_answers_429_with_retry_after(
    ws: Workspace, client: AsyncWebClient
) -> None:
    ws.arm_ratelimit("chat.postMessage", retry_after=7)
    ws.join("C0DISPUTES", "U0BOT")
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C0DISPUTES", text="hi")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["retry-after"] in ("7", ["7"])
    assert (await client.chat_postMessage(channel="C0DISPUTES", text="hi"))["ok"]


async def test_form_body_with_json_string_blocks_and_get_query(
    ws: Workspace, http: httpx.AsyncClient
) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    posted = await http.post(
        "/api/chat.postMessage",
        data={"channel": "disputes", "blocks": json.dumps([header("D-9")])},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert posted.json()["message"]["blocks"][0]["text"]["text"] == "D-9"
    got = await http.get(
        "/api/conversations.info", params={"token": TOKEN, "channel": "C0DISPUTES"}
    )
    assert got.json()["channel"]["name"] == "disputes"


# -- chat ------------------------------------------------------------------------


async def test_post_message_needs_the_bot_in_the_channel(client: AsyncWebClient) -> None:
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


async def test_post_message_errors(ws: Workspace, client: AsyncWebClient) -> None:
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


async def test_threads_replies_and_history(ws: Workspace, client: AsyncWebClient) -> None:
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


async def test_chat_update(ws: Workspace, client: AsyncWebClient) -> None:
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


async def test_post_ephemeral_is_for_one_user(ws: Workspace, client: AsyncWebClient) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    resp = await client.chat_postEphemeral(channel="C0DISPUTES", user="U0MANAGER1", text="psst")
    assert resp["message_ts"]
    assert [e.text for e in ws.ephemerals_for("U0MANAGER1")] == ["psst"]
    assert ws.ephemerals_for("U0AGENT") == []
    assert ws.history("C0DISPUTES") == []


async def test_get_permalink(ws: Workspace, client: AsyncWebClient, server: EmulatorServer) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    parent = ws.post_message("C0DISPUTES", text="p")
    reply = ws.post_message("C0DISPUTES", text="r", thread_ts=parent.ts)
    link = await client.chat_getPermalink(channel="C0DISPUTES", message_ts=parent.ts)
    assert link["permalink"] == (
        f"{server.base_url}/archives/C0DISPUTES/p{parent.ts.replace('.', '')}"
    )
    reply_link = await client.chat_getPermalink(channel="C0DISPUTES", message_ts=reply.ts)
    assert reply_link["permalink"].endswith(f"?thread_ts={parent.ts}&cid=C0DISPUTES")


# -- conversations and users -----------------------------------------------------


async def test_conversations_info_and_list(client: AsyncWebClient) -> None:
    info = await client.conversations_info(channel="C0SUPERVISORS")
    assert info["channel"]["name"] == "dispute-supervisors"
    assert info["channel"]["is_member"] is False
    assert (await slack_error(client.conversations_info(channel="C0NOPE")))["error"] == (
        "channel_not_found"
    )
    listed = await client.conversations_list(types="public_channel,private_channel")
    assert {c["id"] for c in listed["channels"]} == {"C0DISPUTES", "C0SUPERVISORS"}
    first = await client.conversations_list(limit=1)
    cursor = first["response_metadata"]["next_cursor"]
    second = await client.conversations_list(limit=1, cursor=cursor)
    assert first["channels"][0]["id"] != second["channels"][0]["id"]
    assert second["response_metadata"]["next_cursor"] == ""
    assert (await client.conversations_list(types="private_channel"))["channels"] == []


async def test_users_info(client: AsyncWebClient) -> None:
    user = (await client.users_info(user="U0MANAGER1"))["user"]
    assert user["real_name"] == "Max Manager"
    assert user["tz"] == "America/New_York"
    assert isinstance(user["tz_offset"], int)
    assert user["profile"]["real_name"] == "Max Manager"
    assert (await slack_error(client.users_info(user="U0GHOST")))["error"] == "user_not_found"


async def test_history_needs_membership(client: AsyncWebClient) -> None:
    denied = await slack_error(client.conversations_history(channel="C0SUPERVISORS"))
    assert denied["error"] == "not_in_channel"


# -- views -------------------------------------------------------------------------


async def test_views_open_trigger_rules(
    ws: Workspace, client: AsyncWebClient, clock: FakeClock
) -> None:
    unknown = await slack_error(client.views_open(trigger_id="1.2.3", view=modal()))
    assert unknown["error"] == "invalid_trigger_id"
    trigger = ws.mint_trigger("U0MANAGER1")
    opened = await client.views_open(trigger_id=trigger, view=modal(callback_id="resolve"))
    assert opened["view"]["id"].startswith("V")
    assert opened["view"]["callback_id"] == "resolve"
    assert opened["view"]["hash"]
    again = await slack_error(client.views_open(trigger_id=trigger, view=modal()))
    assert again["error"] == "exchanged_trigger_id"
    late = ws.mint_trigger("U0MANAGER1")
    clock.now += 3.5
    expired = await slack_error(client.views_open(trigger_id=late, view=modal()))
    assert expired["error"] == "expired_trigger_id"


async def test_views_open_validates(ws: Workspace, client: AsyncWebClient) -> None:
    invalid = await slack_error(
        client.views_open(trigger_id=ws.mint_trigger("U0AGENT"), view=modal("t" * 25))
    )
    assert invalid["error"] == "invalid_arguments"
    assert invalid["response_metadata"]["messages"][0].endswith("[json-pointer:/title/text]")


async def test_views_update_and_push(ws: Workspace, client: AsyncWebClient) -> None:
    opened = (
        await client.views_open(
            trigger_id=ws.mint_trigger("U0MANAGER1"), view=modal(external_id="d-1")
        )
    )["view"]
    by_id = await client.views_update(
        view_id=opened["id"], hash=opened["hash"], view=modal("Step 2", external_id="d-1")
    )
    assert by_id["view"]["title"]["text"] == "Step 2"
    conflict = await slack_error(
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())
    )
    assert conflict["error"] == "hash_conflict"
    by_ext = await client.views_update(external_id="d-1", view=modal("Step 3", external_id="d-1"))
    assert by_ext["view"]["id"] == opened["id"]
    missing = await slack_error(client.views_update(view_id="V404", view=modal()))
    assert missing["error"] == "not_found"
    pushed = await client.views_push(
        trigger_id=ws.mint_trigger("U0MANAGER1", view_id=opened["id"]), view=modal("Confirm")
    )
    assert pushed["view"]["previous_view_id"] == opened["id"]
    assert pushed["view"]["root_view_id"] == opened["id"]


async def test_views_publish_home(ws: Workspace, client: AsyncWebClient) -> None:
    home = {"type": "home", "blocks": [header("Queue")]}
    resp = await client.views_publish(user_id="U0MANAGER1", view=home)
    assert resp["view"]["type"] == "home"
    assert ws.home_views["U0MANAGER1"].view["blocks"] == [header("Queue")]
    too_big = {"type": "home", "blocks": [{"type": "divider"}] * 101}
    refused = await slack_error(client.views_publish(user_id="U0MANAGER1", view=too_big))
    assert refused["error"] == "invalid_arguments"
    assert "no more than 100" in refused["response_metadata"]["messages"][0]


# -- response_url ----------------------------------------------------------------


async def test_response_url_ephemeral_and_in_channel(
    ws: Workspace, http: httpx.AsyncClient
) -> None:
    token = ws.mint_response_url("C0DISPUTES", "U0MANAGER1")
    first = await http.post(f"/_sandbox/response/{token}", json={"text": "only you"})
    assert first.json() == {"ok": True}
    assert [(e.text, e.via) for e in ws.ephemerals_for("U0MANAGER1")] == [
        ("only you", "response_url")
    ]
    await http.post(
        f"/_sandbox/response/{token}", json={"text": "everyone", "response_type": "in_channel"}
    )
    assert [m.text for m in ws.history("C0DISPUTES")] == ["everyone"]


async def test_response_url_replace_and_delete_original(
    ws: Workspace, http: httpx.AsyncClient
) -> None:
    card = ws.post_message("C0DISPUTES", text="card v1")
    token = ws.mint_response_url("C0DISPUTES", "U0MANAGER1", message_ts=card.ts)
    await http.post(
        f"/_sandbox/response/{token}", json={"replace_original": True, "text": "card v2"}
    )
    assert ws.message("C0DISPUTES", card.ts).text == "card v2"
    await http.post(f"/_sandbox/response/{token}", json={"delete_original": True})
    assert ws.message("C0DISPUTES", card.ts) is None


async def test_response_url_five_uses_then_used(ws: Workspace, http: httpx.AsyncClient) -> None:
    token = ws.mint_response_url("C0DISPUTES", "U0AGENT")
    for _ in range(5):
        assert (
            await http.post(f"/_sandbox/response/{token}", json={"text": "x"})
        ).status_code == 200
    used = await http.post(f"/_sandbox/response/{token}", json={"text": "x"})
    assert used.status_code == 404
    assert used.json() == {"ok": False, "error": "used_url"}


async def test_response_url_expires(
    ws: Workspace, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = ws.mint_response_url("C0DISPUTES", "U0AGENT")
    clock.now += 30 * 60 + 1
    expired = await http.post(f"/_sandbox/response/{token}", json={"text": "late"})
    assert expired.status_code == 404
    assert expired.json() == {"ok": False, "error": "expired_url"}
    assert ws.ephemerals_for("U0AGENT") == []


# -- state, page, transcript -----------------------------------------------------


async def test_state_page_and_transcript(ws: Workspace, http: httpx.AsyncClient) -> None:
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


def test_start_in_thread_for_sync_callers(ws: Workspace) -> None:
    server = EmulatorServer(ws).start_in_thread()
    try:
        resp = httpx.post(
            server.api_url + "auth.test", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert resp.json()["user_id"] == "U0BOT"
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"http://127.0.0.1:{resp.url.port}/api/auth.test")


# -- driver --------------------------------------------------------------------------


async def test_driver_command_is_signed_and_complete(
    driver: SlackDriver, receiver: Receiver, ws: Workspace, http: httpx.AsyncClient
) -> None:
    resp = await driver.command("open ORD-1001 damaged")
    assert resp.status_code == 200
    assert receiver.requests[0]["valid"] is True
    assert receiver.requests[0]["headers"]["content-type"] == "application/x-www-form-urlencoded"
    form = receiver.form()
    expected = {
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name",
        "command", "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id",
    }  # fmt: skip
    assert expected <= set(form)
    assert form["command"] == "/dispute"
    assert form["text"] == "open ORD-1001 damaged"
    assert (form["channel_id"], form["channel_name"]) == ("C0DISPUTES", "disputes")
    assert ws.use_trigger(form["trigger_id"]).user == "U0MANAGER1"
    # The response_url points back at the emulator and works.
    answered = await http.post(form["response_url"], json={"text": "Opening D-1"})
    assert answered.json() == {"ok": True}
    assert ws.ephemerals_for("U0MANAGER1")[0].text == "Opening D-1"


async def test_driver_rejected_signatures(driver: SlackDriver, receiver: Receiver) -> None:
    wrong = await driver.send(b"{}", "application/json", secret="not-the-secret")
    stale = await driver.send(b"{}", "application/json", timestamp=int(time.time()) - 600)
    fine = await driver.send(b"{}", "application/json")
    assert (wrong.status_code, stale.status_code, fine.status_code) == (401, 401, 200)
    assert [r["valid"] for r in receiver.requests] == [False, False, True]


async def test_driver_block_action_on_a_message(
    driver: SlackDriver, receiver: Receiver, ws: Workspace
) -> None:
    card = ws.post_message(
        "C0DISPUTES",
        text="card",
        blocks=[
            {
                "type": "actions",
                "block_id": "review",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "approve",
                        "value": '{"d":"D-1"}',
                        "style": "primary",
                        "text": {"type": "plain_text", "text": "Approve"},
                    }
                ],
            }
        ],
    )
    await driver.block_action("approve", user="U0MANAGER2")
    payload = receiver.payload()
    assert receiver.requests[-1]["valid"] is True
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U0MANAGER2"
    assert payload["container"] == {
        "type": "message",
        "message_ts": card.ts,
        "channel_id": "C0DISPUTES",
        "is_ephemeral": False,
    }
    assert payload["message"]["ts"] == card.ts
    assert payload["actions"][0]["value"] == '{"d":"D-1"}'
    assert payload["actions"][0]["block_id"] == "review"
    assert payload["response_url"].startswith(driver.emulator_url + "/_sandbox/response/")
    assert payload["trigger_id"] in ws.triggers


async def test_driver_view_submission_closes_the_modal(
    driver: SlackDriver, receiver: Receiver, ws: Workspace
) -> None:
    view = ws.open_view(
        ws.mint_trigger("U0MANAGER1"),
        {
            "type": "modal",
            "callback_id": "resolve",
            "title": {"type": "plain_text", "text": "Resolve"},
            "submit": {"type": "plain_text", "text": "Go"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "amount",
                    "label": {"type": "plain_text", "text": "Amount"},
                    "element": {
                        "type": "number_input",
                        "action_id": "v",
                        "is_decimal_allowed": True,
                    },
                },
                {
                    "type": "input",
                    "block_id": "option",
                    "label": {"type": "plain_text", "text": "Option"},
                    "element": {
                        "type": "radio_buttons",
                        "action_id": "v",
                        "options": [
                            {"text": {"type": "plain_text", "text": "Full"}, "value": "full"}
                        ],
                    },
                },
            ],
        },
    )
    await driver.view_submission({"amount": {"v": "12.50"}, "option": {"v": "full"}})
    payload = receiver.payload()
    assert payload["type"] == "view_submission"
    assert payload["view"]["id"] == view.id
    assert payload["view"]["callback_id"] == "resolve"
    values = payload["view"]["state"]["values"]
    assert values["amount"]["v"] == {"type": "number_input", "value": "12.50"}
    assert values["option"]["v"]["selected_option"]["value"] == "full"
    assert ws.top_view("U0MANAGER1") is None


async def test_driver_event_and_retry_headers(driver: SlackDriver, receiver: Receiver) -> None:
    event = {"type": "message", "channel": "C0DISPUTES", "user": "U0AGENT", "text": "hi"}
    await driver.event(event, event_id="Ev123")
    await driver.event(event, event_id="Ev123", retry_num=1)
    first, retry = receiver.requests
    assert first["valid"] and retry["valid"]
    body = json.loads(first["body"])
    assert body["type"] == "event_callback"
    assert body["event_id"] == "Ev123"
    assert body["event"]["text"] == "hi"
    assert "x-slack-retry-num" not in first["headers"]
    assert retry["headers"]["x-slack-retry-num"] == "1"
    assert retry["headers"]["x-slack-retry-reason"] == "http_timeout"


# -- user groups -------------------------------------------------------------------


async def test_usergroups_users_list(ws: Workspace, client: AsyncWebClient) -> None:
    default = await client.usergroups_users_list(usergroup="S0MANAGERS")
    assert default["users"] == ["U0MANAGER1", "U0MANAGER2"]
    ws.add_usergroup("S0SUPERS", "supervisors", ["U0SUPER", "U0SUPER"])
    assert (await client.usergroups_users_list(usergroup="S0SUPERS"))["users"] == ["U0SUPER"]
    ws.add_usergroup("S0SUPERS", "supervisors", [])
    assert (await client.usergroups_users_list(usergroup="S0SUPERS"))["users"] == []
    unknown = await slack_error(client.usergroups_users_list(usergroup="S0NOPE"))
    assert unknown["error"] == "no_such_subteam"
    missing = await slack_error(client.api_call("usergroups.users.list", params={}))
    assert missing["error"] == "invalid_arguments"
    assert ws.calls_to("usergroups.users.list")[0] == {"usergroup": "S0MANAGERS"}
    with pytest.raises(SlackError, match="user_not_found"):
        ws.add_usergroup("S0GHOSTS", "ghosts", ["U0GHOST"])


# -- DMs with the bot, the Home tab, the customer's inbox --------------------------


async def test_dm_channel_with_the_bot(ws: Workspace, client: AsyncWebClient) -> None:
    info = (await client.conversations_info(channel="D0AGENT"))["channel"]
    assert info["id"] == "D0AGENT" and info["is_im"] is True and info["user"] == "U0AGENT"
    assert ws.dm_channel("U0AGENT").id == "D0AGENT"  # the same one, created once
    # Posting to a person's id lands in their DM, as on Slack.
    posted = await client.chat_postMessage(channel="U0AGENT", text="your dispute moved")
    assert posted["channel"] == "D0AGENT"
    history = await client.conversations_history(channel="D0AGENT")
    assert [m["text"] for m in history["messages"]] == ["your dispute moved"]
    # DMs stay out of the channel list unless asked for; nobody joins one.
    listed = await client.conversations_list(types="public_channel,private_channel")
    assert {c["id"] for c in listed["channels"]} == {"C0DISPUTES", "C0SUPERVISORS"}
    ims = await client.conversations_list(types="im")
    assert [c["id"] for c in ims["channels"]] == ["D0AGENT"]
    joined = await slack_error(client.conversations_join(channel="D0AGENT"))
    assert joined["error"] == "method_not_supported_for_channel_type"
    assert (await slack_error(client.conversations_info(channel="D0GHOST")))["error"] == (
        "channel_not_found"
    )


async def test_page_state_has_the_dm_and_keeps_it_private(
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


async def test_ui_home_sends_app_home_opened_and_the_published_view_shows(
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


async def test_customer_inbox(server: EmulatorServer, http: httpx.AsyncClient) -> None:
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
