"""Three replicas of the app behind nginx, on one PostgreSQL database: commands spread over
them open one dispute each with one thread each; a Slack retry and a duplicate click that land
on two different replicas are processed once."""

from __future__ import annotations

import asyncio
import json
import secrets
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.orders.factory import default_fixtures_path
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.waiting import eventually
from tests.conftest import _fresh_postgres_database
from tests.e2e.test_slash_commands import CHANNEL, command_body, ephemeral_texts, parents
from tests.support.app_process import AppProcess, app_process
from tests.support.nginx import nginx, nginx_binary

pytestmark = pytest.mark.postgres
OPENS = 30
FORM = "application/x-www-form-urlencoded"


def orders(folder: Path, count: int) -> list[str]:
    """`count` orders, each a copy of a demo order under a new id."""
    folder.mkdir(parents=True)
    templates = sorted(default_fixtures_path().glob("ORD-*.json"))
    ids = []
    for n in range(count):
        order = json.loads(templates[n % len(templates)].read_text())
        order["order_id"] = f"ORD-R{n:04d}"
        (folder / f"{order['order_id']}.json").write_text(json.dumps(order))
        ids.append(order["order_id"])
    return ids


async def scalar(url: str, sql: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()


async def test_three_replicas_behind_nginx_process_everything_once(
    emulator: EmulatorServer, postgres_server: str, tmp_path: Path
) -> None:
    nginx_binary()
    url = await _fresh_postgres_database(postgres_server)
    ids = orders(tmp_path / "orders", OPENS + 1)
    secret = secrets.token_hex(16)
    env = {
        "DATABASE_URL": url,
        "ORDER_SOURCE": f"fixtures:{tmp_path / 'orders'}",
        "SLACK_SIGNING_SECRET": secret,
    }
    workspace = emulator.workspace
    with ExitStack() as stack:
        apps: list[AppProcess] = [
            stack.enter_context(app_process(tmp_path / name, emulator.api_url, **env))
            for name in ("a", "b", "c")
        ]
        balancer = stack.enter_context(nginx(tmp_path / "nginx", [app.port for app in apps]))
        async with SlackDriver(balancer.url, secret, workspace, emulator.base_url) as slack:
            # Commands through the balancer, ten at a time.
            for first in range(0, OPENS, 10):
                answers = await asyncio.gather(
                    *(
                        slack.command(f"open {order_id} damaged box crushed", user="U0MANAGER1")
                        for order_id in ids[first : first + 10]
                    )
                )
                assert all(answer.status_code == 200 for answer in answers)
            await eventually(
                lambda: all(len(parents(workspace, order_id)) == 1 for order_id in ids[:OPENS]),
                within=60,
            )
            used = balancer.upstreams_used()
            assert set(used) == {f"127.0.0.1:{app.port}" for app in apps}, used

            # A Slack retry of one command, the first try on one replica, the retry on another.
            body, timestamp = command_body(
                slack, workspace, f"open {ids[OPENS]} damaged dented", "U0MANAGER1"
            )
            async with (
                SlackDriver(apps[0].url, secret, workspace, emulator.base_url) as on_a,
                SlackDriver(apps[1].url, secret, workspace, emulator.base_url) as on_b,
            ):
                first_try = await on_a.send(body, FORM, timestamp=timestamp)
                retry = await on_b.send(
                    body,
                    FORM,
                    timestamp=timestamp,
                    headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
                )
                assert first_try.status_code == retry.status_code == 200
                await eventually(lambda: parents(workspace, ids[OPENS]))

                # One click delivered to two replicas at once (the same signed request).
                take = parents(workspace, ids[0])[0]
                told_before = len(ephemeral_texts(workspace, "U0MANAGER2"))
                payload_body = await _click_body(slack, take.ts)
                clicks = await asyncio.gather(
                    on_a.send(payload_body, FORM, timestamp=timestamp),
                    on_b.send(payload_body, FORM, timestamp=timestamp),
                )
                assert all(click.status_code == 200 for click in clicks)
            await asyncio.sleep(2)  # time for a second thread or a second take to show up
            # Each processing of a Take answers the clicker: once, so processed once.
            assert len(ephemeral_texts(workspace, "U0MANAGER2")) == told_before + 1

    assert len(parents(workspace, ids[OPENS])) == 1
    assert await scalar(url, "SELECT count(*) FROM disputes") == OPENS + 1
    assert await scalar(url, "SELECT count(DISTINCT thread_ts) FROM disputes") == OPENS + 1
    takes = await scalar(
        url,
        "SELECT count(*) FROM audit_entries a JOIN disputes d ON d.id = a.dispute_id "
        f"WHERE d.order_id = '{ids[0]}' AND a.action = 'assignment.changed'",
    )
    assert takes == 1
    history = [m for m in workspace.history(CHANNEL) if m.thread_ts in (None, m.ts)]
    assert len(history) == OPENS + 1


async def _click_body(slack: SlackDriver, message_ts: str) -> bytes:
    """The signed form body the driver would send for a Take on `message_ts`, captured once so
    that it can be delivered twice."""
    captured: list[bytes] = []

    async def capture(body: bytes, content_type: str, **_: object) -> object:
        captured.append(body)
        return None

    original = slack.send
    slack.send = capture  # type: ignore[method-assign]
    try:
        await slack.block_action("owner.take", user="U0MANAGER2", message_ts=message_ts)
    finally:
        slack.send = original  # type: ignore[method-assign]
    return captured[0]
