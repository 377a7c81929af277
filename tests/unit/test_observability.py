"""What an operator sees of a running replica: JSON log lines carrying the request id of the
Slack request they belong to (the work after its ack included), the time to each ack by kind,
the metrics behind their bearer token, and the alert counts of a scan."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult

from bot.alerting import Alerting
from bot.app import bolt_logger
from bot.http import create_http_app
from bot.logs import JsonFormatter, new_request_id, request_id
from bot.metrics import REGISTRY, Backlogs, metrics_route, record_ratelimited, slack_request_kind
from bot.settings import SettingsError, is_secret, load_settings
from bot.workers import WorkQueue
from disputes.backlogs import Backlog
from disputes.sla_scan import ScanReport
from tests.unit.test_request_guard import (
    SECRET,
    UnreachableDatabase,
    bolt_app,
    command,
    signed,
)

TOKEN = "metrics-token-0123456789abcdef"


class Lines(logging.Handler):
    """Formats each record as it is emitted (in the context that logged it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter(secrets=["s3cr3t-value-xyz"]))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def lines() -> Any:
    handler = Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(previous)


async def authorized(**_: object) -> AuthorizeResult:
    """The workspace as Bolt would find it, without asking Slack (auth.test)."""
    return AuthorizeResult(
        enterprise_id=None, team_id="T1", bot_token="xoxb-unit", bot_user_id="U0BOT", bot_id="B1"
    )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_json_line_holds_time_level_logger_message_request_id_and_the_exception() -> None:
    formatter = JsonFormatter(secrets=["s3cr3t-value-xyz"])
    try:
        raise RuntimeError(
            "cannot reach postgresql://app:hunter2@db/disputes with s3cr3t-value-xyz"
        )
    except RuntimeError:
        record = logging.getLogger("bot.x").makeRecord(
            "bot.x", logging.ERROR, __file__, 1, "it failed: %s", ("D-7",), sys.exc_info()
        )
    token = request_id.set("req-0123456789")
    try:
        line = formatter.format(record)
    finally:
        request_id.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "bot.x"
    assert entry["message"] == "it failed: D-7" and entry["request_id"] == "req-0123456789"
    assert entry["time"].endswith("+00:00")
    assert "RuntimeError" in entry["exception"]
    assert "hunter2" not in entry["exception"] and "s3cr3t-value-xyz" not in entry["exception"]
    outside = json.loads(formatter.format(logging.makeLogRecord({"msg": "idle"})))
    assert outside["request_id"] is None and "exception" not in outside


def test_an_id_a_proxy_set_is_kept_only_when_it_is_a_plain_token() -> None:
    assert new_request_id("7f3c2a9b0d1e4f56") == "7f3c2a9b0d1e4f56"
    for bad in (None, "", "short", "has space inside", "line\nbreak-0123", "x" * 65):
        fresh = new_request_id(bad)
        assert fresh != bad and len(fresh) == 32


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"command": "/dispute"}, "command"),
        ({"type": "block_actions"}, "action"),
        ({"type": "shortcut"}, "action"),
        ({"type": "view_submission"}, "view"),
        ({"type": "view_closed"}, "view"),
        ({"type": "event_callback"}, "event"),
        ({"type": "url_verification"}, "event"),
        ({"ssl_check": "1"}, "other"),
    ],
)
def test_each_slack_request_is_labelled_by_its_kind(body: dict[str, str], kind: str) -> None:
    assert slack_request_kind(body) == kind


async def test_the_request_id_follows_a_slash_command_into_the_work_after_its_ack(
    lines: list[str],
) -> None:
    app = AsyncApp(signing_secret=SECRET, authorize=authorized, logger=bolt_logger())
    queue = WorkQueue(1)
    queue.start()
    done = asyncio.Event()

    async def after_the_ack() -> None:
        await asyncio.sleep(0.01)
        logging.getLogger("test.job").info("the slow part")
        done.set()

    @app.command("/dispute")
    async def dispute(ack: Any) -> None:
        await ack()
        logging.getLogger("test.listener").info("acked")
        queue.submit(after_the_ack)

    http = create_http_app(app, None, queue.gate)
    body = urlencode(command()).encode()
    before = sample("dispute_desk_ack_seconds_count", kind="command")
    transport = httpx.ASGITransport(app=http)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        answer = await client.post("/slack/events", content=body, headers=dict(signed(body)))
        given = await client.get("/healthz", headers={"X-Request-Id": "nginx-7f3c2a9b0d1e"})
    await asyncio.wait_for(done.wait(), 5)
    await queue.stop()
    assert answer.status_code == 200
    rid = answer.headers["x-request-id"]
    assert len(rid) == 32
    assert given.headers["x-request-id"] == "nginx-7f3c2a9b0d1e"
    entries = [json.loads(line) for line in lines]
    ours = {e["message"]: e["request_id"] for e in entries if e["logger"].startswith("test.")}
    assert ours == {"acked": rid, "the slow part": rid}
    assert sample("dispute_desk_ack_seconds_count", kind="command") == before + 1
    assert sample("dispute_desk_slack_requests_total", kind="command", status="200") >= 1


async def test_a_refused_request_is_counted_but_not_timed_as_an_ack() -> None:
    http = create_http_app(bolt_app(), None, signing_secret="unit-test-signing-secret")
    body = urlencode(command()).encode()
    before = sample("dispute_desk_slack_requests_total", kind="refused", status="401")
    transport = httpx.ASGITransport(app=http)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        answer = await client.post("/slack/events", content=body, headers={"x-a": "b"})
    assert answer.status_code == 401
    assert sample("dispute_desk_slack_requests_total", kind="refused", status="401") == before + 1


async def test_metrics_answer_only_with_the_bearer_token() -> None:
    queue = WorkQueue(1)
    backlogs = Backlogs(UnreachableDatabase(), queue)  # type: ignore[arg-type]
    http = create_http_app(bolt_app(), None, extra_routes=[metrics_route(TOKEN, backlogs)])
    without = create_http_app(bolt_app(), None)
    record_ratelimited("chat.postMessage")
    transport = httpx.ASGITransport(app=http)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=without), base_url="http://app"
    ) as client:
        off = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (anonymous.status_code, wrong.status_code, off.status_code) == (401, 401, 404)
    assert TOKEN not in anonymous.text + wrong.text
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    for name in (
        "dispute_desk_ack_seconds_bucket",
        "dispute_desk_work_queue_depth 0.0",
        "dispute_desk_acks_in_flight 0.0",
        'dispute_desk_slack_ratelimited_total{method="chat.postMessage"}',
        "process_cpu_seconds_total",
    ):
        assert name in text, name
    # The database could not be read: its gauges are left out, the scrape still answers.
    assert "dispute_desk_refund_requests_waiting" not in text


async def test_a_scan_counts_the_alerts_it_raised_and_the_digests_it_made_and_posted() -> None:
    report = ScanReport(held_lease=True, raised=3, digest_id=11, summary_id=12)
    scan = SimpleNamespace(fence=4)

    async def run_once() -> ScanReport:
        return report

    async def post_pending(_scan: object, fence: int) -> int:
        assert fence == 4
        return 2

    scan.run_once = run_once  # type: ignore[attr-defined]
    publisher = SimpleNamespace(post_pending=post_pending)
    alerting = Alerting(scan, publisher, None, every=timedelta(minutes=5))  # type: ignore[arg-type]
    raised = sample("dispute_desk_alerts_raised_total")
    digests = sample("dispute_desk_alert_digests_total", kind="digest")
    summaries = sample("dispute_desk_alert_digests_total", kind="summary")
    posts = sample("dispute_desk_alert_posts_total")
    assert await alerting.tick() is report
    assert sample("dispute_desk_alerts_raised_total") == raised + 3
    assert sample("dispute_desk_alert_digests_total", kind="digest") == digests + 1
    assert sample("dispute_desk_alert_digests_total", kind="summary") == summaries + 1
    assert sample("dispute_desk_alert_posts_total") == posts + 2


async def test_backlog_reads_are_cached_for_a_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    reads: list[float] = []

    async def read(_db: object) -> Backlog:
        reads.append(now[0])
        await asyncio.sleep(0.01)
        return Backlog({"pending": len(reads)}, {"pending": 0}, 0)

    monkeypatch.setattr("bot.metrics.read_backlog", read)
    backlogs = Backlogs(UnreachableDatabase(), ttl=5.0, clock=lambda: now[0])  # type: ignore[arg-type]
    await asyncio.gather(*(backlogs.refresh() for _ in range(10)))  # ten scrapes at once: one read
    now[0] = 104.75
    await backlogs.refresh()
    assert reads == [100.0]
    now[0] = 105.25
    await backlogs.refresh()
    assert reads == [100.0, 105.25]
    (refunds,) = [m for m in backlogs.collect() if m.name == "dispute_desk_refund_requests_waiting"]
    assert [(s.labels, s.value) for s in refunds.samples] == [({"status": "pending"}, 2)]


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml' is not valid: Input should be 'text' or 'json'"),
        ({"METRICS_TOKEN": "MARKER9f3ac1d7"}, "METRICS_TOKEN is not valid: must be at least 16"),
        ({"METRICS_TOKEN": "MARKER9f3ac1d7 MARKER9f3ac1d7"}, "METRICS_TOKEN is not valid: must"),
    ],
)
def test_observability_settings_are_checked_and_the_token_never_shown(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value).startswith(says)
    assert "MARKER9f3ac1d7" not in str(refused.value)


def test_log_format_reads_in_any_case_and_the_token_is_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOG_FORMAT", " JSON ")
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    settings = load_settings()
    assert settings.log_format == "json" and settings.metrics_token == TOKEN
    assert is_secret("metrics_token") and TOKEN not in repr(settings)
    assert TOKEN in settings.secrets()
    monkeypatch.delenv("LOG_FORMAT")
    monkeypatch.delenv("METRICS_TOKEN")
    assert (load_settings().log_format, load_settings().metrics_token) == ("text", None)
