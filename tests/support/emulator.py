"""Pieces for testing the Slack emulator: a clock that moves only when told, and a stand-in
for the app that verifies and records what the driver sends it."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.slack.records import BOT_TOKEN

TOKEN = BOT_TOKEN
SECRET = "test-signing-secret"
# A valid 1x1 PNG and the start of a JPEG, for uploads.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5d0a0b5"
    "0000000049454e44ae426082"
)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


class FakeClock:
    """Starts at `now` (default: real time), then only moves when a test says so."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


async def slack_error(call: Any) -> dict[str, Any]:
    """Await a Web API call that must fail; return Slack's response body."""
    with pytest.raises(SlackApiError) as exc:
        await call
    return exc.value.response.data


class Receiver:
    """A tiny Starlette app standing in for Bolt: verifies and records every request."""

    def __init__(self, reply: dict[str, Any] | None = None) -> None:
        self.verifier = SignatureVerifier(SECRET)
        self.requests: list[dict[str, Any]] = []
        self.reply = reply
        self.app = Starlette(routes=[Route("/slack/events", self.handle, methods=["POST"])])

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        valid = self.verifier.is_valid(
            body=body,
            timestamp=request.headers.get("X-Slack-Request-Timestamp", ""),
            signature=request.headers.get("X-Slack-Signature", ""),
        )
        self.requests.append({"body": body, "headers": request.headers, "valid": valid})
        if not valid:
            return Response(status_code=401)
        return JSONResponse(self.reply) if self.reply else Response(status_code=200)

    def form(self, i: int = -1) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.requests[i]["body"].decode()).items()}

    def payload(self, i: int = -1) -> dict[str, Any]:
        return json.loads(self.form(i)["payload"])


def header(text: str) -> dict[str, Any]:
    """A header block."""
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def modal(title: str = "Resolve", **kw: Any) -> dict[str, Any]:
    """A modal view with no blocks; `kw` adds fields (callback_id, external_id, …)."""
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": [], **kw}
