"""Two replicas of the app on one PostgreSQL database, opening disputes into one channel while
Slack rate-limits it: late threads are left to the thread outboxes of both, which share them
(`FOR UPDATE SKIP LOCKED`, fenced claims, the threads' advisory locks); every thread is posted
exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import SlackLimits
from sandbox.waiting import eventually
from tests.conftest import _fresh_postgres_database
from tests.e2e.test_slack_limits import LONG_PAUSE, PEOPLE, SCALE, complete, write_orders
from tests.support.app_process import app_process

pytestmark = pytest.mark.postgres

OPENED = 40


async def test_two_replicas_never_post_a_thread_twice(
    emulator: EmulatorServer, postgres_server: str, tmp_path: Path
) -> None:
    url = await _fresh_postgres_database(postgres_server)
    order_ids = write_orders(tmp_path, "ORD-R", OPENED)
    env = {"DATABASE_URL": url, "ORDER_SOURCE": f"fixtures:{tmp_path}"}
    workspace = emulator.workspace
    api = emulator.api_url
    with (
        app_process(tmp_path / "a", api, **env) as a,
        app_process(tmp_path / "b", api, SLACK_SIGNING_SECRET=a.secret, **env) as b,
    ):
        workspace.set_limits(SlackLimits.slack(scale=SCALE))
        try:
            async with (
                SlackDriver(a.url, a.secret, workspace, emulator.base_url) as on_a,
                SlackDriver(b.url, b.secret, workspace, emulator.base_url) as on_b,
            ):
                # Slack holds the channel's posts back longer than a command waits: the threads
                # opened meanwhile are late, and both replicas' outboxes go for them.
                workspace.arm_ratelimit("chat.postMessage", retry_after=LONG_PAUSE, times=1)
                replicas = (on_a, on_b)
                acks = await asyncio.gather(
                    *(
                        replicas[n % 2].command(f"open {order}", user=PEOPLE[n % len(PEOPLE)])
                        for n, order in enumerate(order_ids)
                    )
                )
                assert {ack.status_code for ack in acks} == {200}
                await eventually(lambda: complete(workspace, order_ids), within=90)
                await asyncio.sleep(3)  # a second post of a thread would show by now
                assert complete(workspace, order_ids)
        finally:
            workspace.set_limits(None)
            workspace.ratelimits.clear()
        outputs = a.output() + b.output()

    posted = [p for p in workspace.calls_to("chat.postMessage") if not p.get("thread_ts")]
    per_order = Counter(p["text"].split(" · ")[1] for p in posted if " · ORD-R" in p["text"])
    assert set(per_order) == set(order_ids) and set(per_order.values()) == {1}
    assert "is left out" not in outputs  # no parent was ever posted twice
    assert "gave up on chat.postMessage" in outputs and "Traceback" not in outputs
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT thread_ts, thread_due_at, thread_lease_until FROM disputes")
            )
        ).all()
    await engine.dispose()
    assert len(rows) == OPENED and all(ts for ts, _, _ in rows)
    assert all(due is None and lease is None for _, due, lease in rows)
