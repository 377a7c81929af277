"""Bolt makes a plain Web API client for every request: the app's middleware hands its
listeners the one rate-limited client instead, so a listener's calls wait out 429s too, and
its answers to a `response_url` go out on that client's HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from unittest.mock import MagicMock
from urllib.parse import urlencode

import pytest
from aiohttp import ClientSession
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import build_bolt_app
from bot.dedupe import RecentKeys
from handlers.slack_client import LimitedWebClient, retry_after
from handlers.slack_limits import RateGate
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually


@dataclass
class Probed:
    """The app's Bolt app and rate-limited client, against the emulator serving `workspace`."""

    app: AsyncApp
    client: LimitedWebClient
    workspace: Workspace
    emulator_url: str

    async def probe(self, text: str = "", token: str = "none") -> None:
        """Send `/probe text` from U0AGENT, its response_url the emulator's with `token`."""
        body = urlencode(
            {
                "command": "/probe",
                "text": text,
                "user_id": "U0AGENT",
                "channel_id": "C0DISPUTES",
                "team_id": self.workspace.team_id,
                "trigger_id": "1.2.3",
                "response_url": f"{self.emulator_url}/_sandbox/response/{token}",
            }
        )
        request = AsyncBoltRequest(
            body=body, headers={"content-type": ["application/x-www-form-urlencoded"]}
        )
        assert (await self.app.async_dispatch(request)).status == 200


@asynccontextmanager
async def probed(workspace: Workspace) -> AsyncIterator[Probed]:
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
        yield Probed(app, client, workspace, emulator.base_url)


async def test_listeners_get_the_rate_limited_client() -> None:
    workspace = Workspace.default()
    async with probed(workspace) as probing:
        app, client = probing.app, probing.client
        seen: list[Any] = []

        @app.command("/probe")
        async def listener(ack: Any, client: Any) -> None:
            await ack()
            workspace.arm_ratelimit("users.info", retry_after=1)
            seen.append((client, (await client.users_info(user="U0AGENT"))["user"]["id"]))

        await probing.probe()
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
    async with probed(workspace) as probing:

        @probing.app.command("/probe")
        async def listener(ack: Any, respond: Any, command: dict[str, Any]) -> None:
            await ack()
            await respond(text=f"answer {command['text']}", response_type="ephemeral")

        def answers() -> list[str]:
            return sorted(e.text for e in workspace.ephemerals_for("U0AGENT", "C0DISPUTES"))

        for n in (1, 2, 3):
            token = workspace.mint_response_url("C0DISPUTES", "U0AGENT")
            await probing.probe(str(n), token)
            await eventually(lambda: answers()[n - 1 :])  # noqa: B023 (awaited here)
            if n == 1:  # it opened the client's session (and Bolt its own for auth.test)
                opened.clear()
        assert answers() == ["answer 1", "answer 2", "answer 3"]
        assert opened == []
