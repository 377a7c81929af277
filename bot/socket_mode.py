"""Socket Mode: Slack's requests over a WebSocket the app opens, for workspaces that cannot
reach the app over HTTP."""

from __future__ import annotations

import time
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.logs import new_request_id, request_id
from bot.metrics import observe_ack, slack_request_kind
from bot.workers import AckGate


class GatedSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, with each envelope counted by the ack gate until its ack is
    sent, as HTTP requests are: queued work waits while acks are pending. The envelope's id is
    the request id of its log lines, and the time to its ack is measured as over HTTP."""

    def __init__(self, app: AsyncApp, app_token: str, *, gate: AckGate) -> None:
        super().__init__(app, app_token)
        self.gate = gate

    async def handle(self, client: Any, req: SocketModeRequest) -> None:
        started = time.perf_counter()
        token = request_id.set(new_request_id(req.envelope_id))
        self.gate.enter()
        try:
            await super().handle(client, req)
            payload = req.payload if isinstance(req.payload, dict) else {}
            observe_ack(slack_request_kind(payload), 200, time.perf_counter() - started)
        finally:
            self.gate.leave()
            request_id.reset(token)
