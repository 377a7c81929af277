"""The sandbox's Socket Mode: apps.connections.open, one-time tickets, envelopes and acks, with
slack_sdk's own Socket Mode client on the other end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack.records import APP_TOKEN, BOT_TOKEN
from sandbox.slack.server import EmulatorServer
from sandbox.slack.socket_mode import SocketModeServer, envelope_of
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer(Workspace.default()) as server:
        yield server


async def test_connections_open_takes_only_the_app_level_token(emulator: EmulatorServer) -> None:
    web = AsyncWebClient(base_url=emulator.api_url)
    with pytest.raises(SlackApiError, match="socket_mode_not_enabled"):
        await web.apps_connections_open(app_token=APP_TOKEN)
    async with SocketModeServer(emulator.workspace) as socket:
        with pytest.raises(SlackApiError, match="not_allowed_token_type"):
            await AsyncWebClient(token=BOT_TOKEN, base_url=emulator.api_url).api_call(
                "apps.connections.open"
            )
        with pytest.raises(SlackApiError, match="invalid_auth"):
            await web.apps_connections_open(app_token="xapp-1-other")
        with pytest.raises(SlackApiError, match="not_allowed_token_type"):
            await AsyncWebClient(token=APP_TOKEN, base_url=emulator.api_url).chat_postMessage(
                channel="C0DISPUTES", text="hi"
            )
        url = (await web.apps_connections_open(app_token=APP_TOKEN))["url"]
        assert url.startswith(socket.url + "?ticket=")

        # A ticket opens one connection; a second use is refused.
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(url) as first:
                hello = await first.receive_json()
                assert hello["type"] == "hello" and hello["num_connections"] == 1
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url)
            assert refused.value.status == 401


async def test_envelopes_reach_slack_sdks_client_and_acks_come_back(
    emulator: EmulatorServer,
) -> None:
    async with SocketModeServer(emulator.workspace) as socket:
        web = AsyncWebClient(base_url=emulator.api_url)
        client = SocketModeClient(app_token=APP_TOKEN, web_client=web)
        seen: list[SocketModeRequest] = []

        async def listener(client: SocketModeClient, req: SocketModeRequest) -> None:
            seen.append(req)
            payload = {"response_action": "errors"} if req.type == "interactive" else None
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=req.envelope_id, payload=payload)
            )

        client.socket_mode_request_listeners.append(listener)
        await client.connect()
        try:
            await socket.connected()
            kind, payload = envelope_of(
                b"command=%2Fdispute&text=help", "application/x-www-form-urlencoded"
            )
            assert await socket.request(kind, payload) is None
            answer = await socket.request("interactive", {"type": "view_submission"})
            assert answer == {"response_action": "errors"}
            await socket.request("events_api", {"event_id": "Ev1"}, retry_attempt=1)
            assert [(r.type, r.retry_attempt) for r in seen] == [
                ("slash_commands", 0),
                ("interactive", 0),
                ("events_api", 1),
            ]
            assert seen[0].payload == {"command": "/dispute", "text": "help"}
            assert seen[2].accepts_response_payload is False
        finally:
            await client.close()
        await eventually(lambda: socket.connections == 0)
