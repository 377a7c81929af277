"""Bolt makes a plain Web API client for every request: the app's middleware hands its
listeners the one rate-limited client instead, so a listener's calls wait out 429s too."""

from __future__ import annotations

from typing import Any
from unittest.mock import MagicMock
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession
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


async def test_answers_go_out_on_the_clients_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bolt's own `respond` opens an HTTP session (and a connection) per answer; the app's
    answers share the client's session, as its Web API calls do."""
    workspace = Workspace.default()
    opened: list[ClientSession] = []
    session_init = ClientSession.__init__

    def counted(self: ClientSession, *args: Any, **kwargs: Any) -> None:
        opened.append(self)
        session_init(self, *args, **kwargs)

    monkeypatch.setattr(ClientSession, "__init__", counted)
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

        @app.command("/probe")
        async def probe(ack: Any, respond: Any, command: dict[str, Any]) -> None:
            await ack()
            await respond(text=f"answer {command['text']}", response_type="ephemeral")

        def answers() -> list[str]:
            return sorted(e.text for e in workspace.ephemerals_for("U0AGENT", "C0DISPUTES"))

        for n in (1, 2, 3):
            token = workspace.mint_response_url("C0DISPUTES", "U0AGENT")
            body = urlencode(
                {
                    "command": "/probe",
                    "text": str(n),
                    "user_id": "U0AGENT",
                    "channel_id": "C0DISPUTES",
                    "team_id": workspace.team_id,
                    "trigger_id": f"{n}.2.3",
                    "response_url": f"{emulator.base_url}/_sandbox/response/{token}",
                }
            )
            request = AsyncBoltRequest(
                body=body, headers={"content-type": ["application/x-www-form-urlencoded"]}
            )
            assert (await app.async_dispatch(request)).status == 200
            await eventually(lambda: answers()[n - 1 :])  # noqa: B023 (awaited here)
            if n == 1:  # it opened the client's session (and Bolt its own for auth.test)
                opened.clear()
        assert answers() == ["answer 1", "answer 2", "answer 3"]
        assert opened == []
