"""The Web API's front door over real HTTP: tokens, unknown methods, rate limits, form and GET
bodies, and the emulator served from a thread."""

from __future__ import annotations

import json

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from tests.support.emulator import TOKEN, header, slack_error


async def test_the_bot_token_answers_as_the_sandbox_bot(
    client: AsyncWebClient, server: EmulatorServer
) -> None:
    assert server.api_url == server.base_url + "/api/"
    resp = await client.auth_test()
    assert resp["user_id"] == "U0BOT"
    assert resp["team_id"] == "T0SANDBOX"
    assert resp["bot_id"] == "B0BOT"


async def test_a_missing_or_wrong_token_is_refused(
    server: EmulatorServer, http: httpx.AsyncClient
) -> None:
    no_token = await http.post("/api/auth.test")
    assert no_token.status_code == 200
    assert no_token.json() == {"ok": False, "error": "not_authed"}
    bad = AsyncWebClient(token="xoxb-wrong", base_url=server.api_url)
    assert (await slack_error(bad.auth_test()))["error"] == "invalid_auth"
    via_param = await http.post("/api/auth.test", data={"token": TOKEN})
    assert via_param.json()["ok"] is True


async def test_an_unknown_method_is_an_error(client: AsyncWebClient) -> None:
    assert (await slack_error(client.api_call("chat.teleport")))["error"] == "unknown_method"


async def test_an_armed_rate_limit_answers_429_with_retry_after_once(
    ws: Workspace, client: AsyncWebClient
) -> None:
    ws.arm_ratelimit("chat.postMessage", retry_after=7)
    ws.join("C0DISPUTES", "U0BOT")
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="C0DISPUTES", text="hi")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["retry-after"] in ("7", ["7"])
    assert (await client.chat_postMessage(channel="C0DISPUTES", text="hi"))["ok"]


async def test_form_bodies_with_json_blocks_and_get_queries_are_read(
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


def test_the_emulator_serves_sync_callers_from_a_thread(ws: Workspace) -> None:
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
