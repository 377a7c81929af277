"""Bolt makes a plain Web API client for every request: the app's middleware hands its
listeners the one rate-limited client instead, so a listener's calls wait out 429s too."""

from __future__ import annotations

from typing import Any
from unittest.mock import MagicMock
from urllib.parse import urlencode

from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import build_bolt_app
from bot.dedupe import RecentKeys
from handlers.slack_client import LimitedWebClient, retry_after
from handlers.slack_limits import RateGate
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually


async def test_listeners_get_the_rate_limited_client() -> None:
    workspace = Workspace.default()
    async with (
        EmulatorServer(workspace) as emulator,
        LimitedWebClient(
            gate=RateGate(retry_after, max_wait=10),
            token=workspace.bot_token,
            base_url=emulator.api_url,
        ) as client,
    ):
        app = build_bolt_app(
            client=client, signing_secret=None, deps=MagicMock(), recent=RecentKeys()
        )
        seen: list[Any] = []

        @app.command("/probe")
        async def probe(ack: Any, client: Any) -> None:
            await ack()
            workspace.arm_ratelimit("users.info", retry_after=1)
            seen.append((client, (await client.users_info(user="U0AGENT"))["user"]["id"]))

        body = urlencode(
            {
                "command": "/probe",
                "text": "",
                "user_id": "U0AGENT",
                "channel_id": "C0DISPUTES",
                "team_id": workspace.team_id,
                "trigger_id": "1.2.3",
                "response_url": f"{emulator.base_url}/_sandbox/response/none",
            }
        )
        request = AsyncBoltRequest(
            body=body, headers={"content-type": ["application/x-www-form-urlencoded"]}
        )
        response = await app.async_dispatch(request)
        assert response.status == 200
        # The listener (run after the ack) met a 429, waited it out and got its answer.
        assert await eventually(lambda: seen, within=5) == [(client, "U0AGENT")]
        assert client.counters.ratelimited["users.info"] == 1
