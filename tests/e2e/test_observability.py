"""A replica as an operator watches it: with LOG_FORMAT=json every line it writes is one JSON
object, a request's lines carry the id its response names in `X-Request-Id` (or the one the
proxy in front set), and `/metrics` answers only to METRICS_TOKEN, with the acks it timed and
the backlog it read."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest

from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.waiting import eventually
from tests.support.app_process import AppProcess, app_process

TOKEN = secrets.token_hex(20)


@pytest.fixture(scope="module")
def watched(
    emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppProcess]:
    tmp = tmp_path_factory.mktemp("watched")
    with app_process(tmp, emulator.api_url, LOG_FORMAT="json", METRICS_TOKEN=TOKEN) as app:
        yield app


def entries(app: AppProcess) -> list[dict[str, object]]:
    return [json.loads(line) for line in app.output().splitlines() if line.strip()]


async def test_every_line_is_json_and_a_request_s_lines_carry_its_id(
    watched: AppProcess, emulator: EmulatorServer
) -> None:
    async with httpx.AsyncClient(base_url=watched.url) as client:
        forged = await client.post(
            "/slack/events",
            content=b"command=%2Fdispute&text=help",
            headers={"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=00"},
        )
        proxied = await client.post(
            "/slack/events",
            content=b"command=%2Fdispute",
            headers={"X-Request-Id": "nginx-5d1c0b7a9e3f", "X-Slack-Signature": "v0=00"},
        )
    assert forged.status_code == 401 and proxied.status_code == 401
    rid = forged.headers["x-request-id"]
    assert proxied.headers["x-request-id"] == "nginx-5d1c0b7a9e3f"

    def refusals() -> list[dict[str, object]]:
        lines = entries(watched)  # every line parses: nothing but JSON on the output
        return [e for e in lines if str(e["message"]).startswith("refused a Slack request")]

    lines = await eventually(lambda: len(refusals()) >= 2 and refusals())
    assert [e["request_id"] for e in lines[-2:]] == [rid, "nginx-5d1c0b7a9e3f"]
    assert all(e["level"] == "WARNING" and e["logger"] == "bot.http" for e in lines)
    assert all(
        {"time", "level", "logger", "message", "request_id"} <= set(e) for e in entries(watched)
    )
    assert "command=" not in watched.output()  # no request body in any line


async def test_metrics_show_the_acks_by_kind_and_the_backlog(
    watched: AppProcess, emulator: EmulatorServer
) -> None:
    async with SlackDriver(
        watched.url, watched.secret, emulator.workspace, emulator.base_url
    ) as slack:
        answer = await slack.command("help")
        assert answer.status_code == 200 and len(answer.headers["x-request-id"]) == 32
    async with httpx.AsyncClient(base_url=watched.url) as client:
        anonymous = await client.get("/metrics")
        scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert anonymous.status_code == 401
    assert scraped.status_code == 200
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in scraped.text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples['dispute_desk_ack_seconds_count{kind="command"}'] >= 1
    assert samples['dispute_desk_slack_requests_total{kind="command",status="200"}'] >= 1
    for gauge in (
        'dispute_desk_refund_requests_waiting{status="pending"}',
        'dispute_desk_customer_messages_waiting{status="pending"}',
        "dispute_desk_alert_posts_waiting",
        "dispute_desk_work_queue_depth",
    ):
        assert gauge in samples, gauge
    assert TOKEN not in watched.output()


def test_without_a_metrics_token_there_are_no_metrics(app: AppProcess) -> None:
    assert httpx.get(app.url + "/metrics", timeout=5).status_code == 404
