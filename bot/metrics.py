"""Prometheus metrics: what the process counts as it works (acks, refund outcomes, alerts,
Slack's 429s) and what waits in the database and the worker queue, read when scraped.

`GET /metrics` answers only to `Authorization: Bearer <METRICS_TOKEN>`; without the setting the
path does not exist. Each replica answers for itself; the database's backlog is the same in
every replica (take the max across them, not the sum)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.workers import WorkQueue
from disputes.backlogs import Backlog, read_backlog
from disputes.refund_records import RefundOutcome
from disputes.sla_scan import ScanReport
from storage.db import Database

log = logging.getLogger(__name__)

# The process's own metrics, counted wherever the work happens; shared by every runtime in it.
REGISTRY = CollectorRegistry()
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

# Slack wants an answer within 3 s; most acks are a few milliseconds.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
ACK_SECONDS = Histogram(
    "dispute_desk_ack_seconds",
    "Time from a Slack request's arrival to its ack leaving (not the work after the ack)",
    ["kind"],
    buckets=ACK_BUCKETS,
    registry=REGISTRY,
)
SLACK_REQUESTS = Counter(
    "dispute_desk_slack_requests",
    "Slack requests answered, by kind and HTTP status (kind `refused`: turned away unread)",
    ["kind", "status"],
    registry=REGISTRY,
)
REFUND_OUTCOMES = Counter(
    "dispute_desk_refund_outcomes",
    "Refund request outcomes recorded by this replica's refund worker",
    ["outcome"],
    registry=REGISTRY,
)
ALERTS_RAISED = Counter(
    "dispute_desk_alerts_raised",
    "Service-level alerts raised by the scans this replica ran",
    registry=REGISTRY,
)
DIGESTS_MADE = Counter(
    "dispute_desk_alert_digests",
    "Alert digests (kind digest) and daily summaries (kind summary) made by this replica",
    ["kind"],
    registry=REGISTRY,
)
DIGEST_POSTS = Counter(
    "dispute_desk_alert_posts",
    "Digest posts this replica delivered to Slack",
    registry=REGISTRY,
)
SLACK_RATELIMITED = Counter(
    "dispute_desk_slack_ratelimited",
    "Slack Web API calls answered 429 (rate limited), by method",
    ["method"],
    registry=REGISTRY,
)
# How long a scrape reuses the database's counts: scrapes, however frequent, cost at most
# three indexed counts per this many seconds.
BACKLOG_TTL = 5.0


def record_ratelimited(method: str) -> None:
    """Count one 429 from Slack's Web API for `method` (e.g. chat.postMessage)."""
    SLACK_RATELIMITED.labels(method=method).inc()


def slack_request_kind(body: dict[str, Any]) -> str:
    """command, action, view, event or other: the label of a Slack request's ack."""
    if "command" in body:
        return "command"
    kind = body.get("type")
    if kind in ("event_callback", "url_verification", "app_rate_limited"):
        return "event"
    if kind in ("view_submission", "view_closed"):
        return "view"
    if kind in (
        "block_actions",
        "block_suggestion",
        "interactive_message",
        "shortcut",
        "message_action",
        "dialog_submission",
    ):
        return "action"
    return "other"


def observe_ack(kind: str, status: int, seconds: float) -> None:
    ACK_SECONDS.labels(kind=kind).observe(seconds)
    SLACK_REQUESTS.labels(kind=kind, status=str(status)).inc()


def count_refused(status: int) -> None:
    SLACK_REQUESTS.labels(kind="refused", status=str(status)).inc()


Notify = Callable[[RefundOutcome], Awaitable[None]]


def counting_refund_outcomes(notify: Notify | None) -> Notify:
    """The refund worker's report, counted by outcome before it goes on to `notify`."""

    async def report(outcome: RefundOutcome) -> None:
        REFUND_OUTCOMES.labels(outcome=outcome.status).inc()
        if notify is not None:
            await notify(outcome)

    return report


def record_scan(report: ScanReport | None, posted: int = 0) -> None:
    """What one SLA scan raised and made, and the digest posts delivered after it."""
    if report is not None:
        if report.raised:
            ALERTS_RAISED.inc(report.raised)
        if report.digest_id is not None:
            DIGESTS_MADE.labels(kind="digest").inc()
        if report.summary_id is not None:
            DIGESTS_MADE.labels(kind="summary").inc()
    if posted:
        DIGEST_POSTS.inc(posted)


class Backlogs(Collector):
    """Gauges read at scrape time: the database's backlog (cached for `ttl` seconds, one read
    at a time) and this process's worker queue."""

    def __init__(
        self,
        db: Database,
        queue: WorkQueue | None = None,
        *,
        ttl: float = BACKLOG_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.queue = queue
        self.ttl = ttl
        self.clock = clock
        self._backlog: Backlog | None = None
        self._read_at: float | None = None
        self._reading = asyncio.Lock()

    async def refresh(self) -> None:
        """Read the database's counts unless the last read is younger than `ttl`; a failed
        read leaves them out of the next scrape."""
        async with self._reading:
            now = self.clock()
            if self._read_at is not None and now - self._read_at < self.ttl:
                return
            self._read_at = now
            try:
                self._backlog = await read_backlog(self.db)
            except Exception as exc:
                self._backlog = None
                log.warning("metrics: the backlog could not be read: %s", type(exc).__name__)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        if self.queue is not None:
            yield _gauge(
                "dispute_desk_work_queue_depth",
                "Jobs after an ack queued or running in this replica's worker pool",
                self.queue.depth,
            )
            yield _gauge(
                "dispute_desk_acks_in_flight",
                "Slack requests in this replica waiting for their ack",
                self.queue.gate.in_flight,
            )
        backlog = self._backlog
        if backlog is None:
            return
        refunds = GaugeMetricFamily(
            "dispute_desk_refund_requests_waiting",
            "Refund requests not yet final, by status (the whole database)",
            labels=["status"],
        )
        for status, count in backlog.refund_requests.items():
            refunds.add_metric([status], count)
        yield refunds
        messages = GaugeMetricFamily(
            "dispute_desk_customer_messages_waiting",
            "Customer messages not yet sent, by status (the whole database)",
            labels=["status"],
        )
        for status, count in backlog.customer_messages.items():
            messages.add_metric([status], count)
        yield messages
        yield _gauge(
            "dispute_desk_alert_posts_waiting",
            "Digest posts Slack has not taken yet (the whole database)",
            backlog.alert_posts,
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def metrics_route(token: str, backlogs: Backlogs) -> Route:
    """GET /metrics for a scraper presenting `token` as a bearer token."""
    expected = f"Bearer {token}".encode()
    local = CollectorRegistry(auto_describe=False)
    local.register(backlogs)

    async def metrics(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return Response(
                "metrics need the bearer token METRICS_TOKEN\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                media_type="text/plain",
            )
        await backlogs.refresh()
        body = generate_latest(REGISTRY) + generate_latest(local)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", metrics, methods=["GET"])
