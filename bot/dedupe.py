"""Each Slack request is processed once, however often it arrives.

Two layers: before the ack, an in-memory check turns away what this process has already
seen (no I/O, so acks stay fast); after the ack, the job that would act on the request first
claims its key in the database, which holds across restarts and replicas.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from handlers.deps import RequestKey

log = logging.getLogger(__name__)

CONTEXT_KEY = "request_key"
# Slack rejects timestamps older than 5 minutes and retries events within minutes.
REMEMBER_SECONDS = 15 * 60


def request_key(req: AsyncBoltRequest) -> RequestKey:
    """Events are keyed by event_id (Slack's retries reuse it); the rest by their signature."""
    body = req.body if isinstance(req.body, dict) else {}
    event_id = body.get("event_id")
    if body.get("type") == "event_callback" and event_id:
        return RequestKey(f"event:{event_id}", "event")
    signature = _header(req, "x-slack-signature")
    if signature:
        return RequestKey(f"sig:{signature}", _kind(body))
    # Socket Mode carries no signature and no raw body: the envelope's payload identifies the
    # request (a command's or an interaction's own trigger_id makes each one distinct).
    raw = req.raw_body or json.dumps(req.body, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(raw.encode()).hexdigest()
    return RequestKey(f"body:{digest}", _kind(body))


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


class RecentKeys:
    """Keys seen by this process in the last `ttl` seconds, bounded in size."""

    def __init__(self, ttl: float = REMEMBER_SECONDS, capacity: int = 100_000) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_time(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        while self._seen and (
            len(self._seen) >= self.capacity or next(iter(self._seen.values())) < now - self.ttl
        ):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


def dedupe_middleware(recent: RecentKeys) -> Callable[..., Awaitable[BoltResponse | None]]:
    async def dedupe(
        req: AsyncBoltRequest,
        context: dict[str, object],
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        if req.body.get("type") == "url_verification":
            return await next()
        key = request_key(req)
        if not recent.first_time(key.key):
            retry = _header(req, "x-slack-retry-num")
            log.info("dropping duplicate %s %s (retry %s)", key.kind, key.key[:24], retry or "-")
            return BoltResponse(status=200, body="")
        context[CONTEXT_KEY] = key
        return await next()

    return dedupe
