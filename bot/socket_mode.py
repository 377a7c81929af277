"""Socket Mode: Slack's requests over a WebSocket the app opens, for workspaces that cannot
reach the app over HTTP."""

from __future__ import annotations

from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.workers import AckGate


class GatedSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, with each envelope counted by the ack gate until its ack is
    sent, as HTTP requests are: queued work waits while acks are pending."""

    def __init__(self, app: AsyncApp, app_token: str, *, gate: AckGate) -> None:
        super().__init__(app, app_token)
        self.gate = gate

    async def handle(self, client: Any, req: SocketModeRequest) -> None:
        self.gate.enter()
        try:
            await super().handle(client, req)
        finally:
            self.gate.leave()
