"""Bolt middleware: each Slack request is processed once, however often it arrives."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from storage.db import Database
from storage.requests import claim_request

log = logging.getLogger(__name__)


def request_key(req: AsyncBoltRequest) -> tuple[str, str]:
    """Events are keyed by event_id (Slack's retries reuse it); the rest by their signature."""
    body = req.body if isinstance(req.body, dict) else {}
    event_id = body.get("event_id")
    if body.get("type") == "event_callback" and event_id:
        return f"event:{event_id}", "event"
    signature = _header(req, "x-slack-signature")
    timestamp = _header(req, "x-slack-request-timestamp")
    if signature:
        return f"sig:{signature}", _kind(body)
    # Socket Mode carries no signature: the envelope's raw body identifies the request.
    digest = hashlib.sha256((timestamp + req.raw_body).encode()).hexdigest()
    return f"body:{digest}", _kind(body)


def _header(req: AsyncBoltRequest, name: str) -> str:
    values = req.headers.get(name) or []
    return values[0] if values else ""


def _kind(body: dict[str, object]) -> str:
    if "command" in body:
        return "command"
    payload = body.get("payload")
    if isinstance(payload, str):
        try:
            return str(json.loads(payload).get("type", "interaction"))[:30]
        except ValueError:
            return "interaction"
    return str(body.get("type", "request"))[:30]


def dedupe_middleware(
    db: Database,
) -> Callable[..., Awaitable[BoltResponse | None]]:
    async def dedupe(
        req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:
        if req.body.get("type") == "url_verification":
            return await next()
        key, kind = request_key(req)
        if not await claim_request(db, key, kind):
            retry = _header(req, "x-slack-retry-num")
            log.info("dropping duplicate %s %s (retry %s)", kind, key[:24], retry or "-")
            return BoltResponse(status=200, body="")
        return await next()

    return dedupe
