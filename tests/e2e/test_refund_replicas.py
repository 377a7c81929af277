"""Two replicas of the app on one PostgreSQL database, and a provider slower than the refund
lease: the worker that sent the refund keeps its claim while it waits, the other replica never
takes it over, and the customer is refunded once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.waiting import eventually
from tests.conftest import _fresh_postgres_database
from tests.e2e.test_refunds import ROLES, find_reply, payment_of, propose
from tests.integration.test_cli import run as run_cli
from tests.support.app_process import app_process
from tests.support.customer import customer_accepts
from tests.support.faulty_stripe import REFUND_POST, Fault, FaultyStripe, refunds_at
from tests.support.localstripe import API_KEY

pytestmark = pytest.mark.postgres


async def test_two_replicas_and_a_slow_provider_make_one_refund(
    emulator: EmulatorServer,
    stripe: str,
    paid_orders: Path,
    postgres_server: str,
    tmp_path: Path,
) -> None:
    url = await _fresh_postgres_database(postgres_server)
    roles = tmp_path / "roles.yml"
    roles.write_text(ROLES)
    env = {
        "DATABASE_URL": url,
        "ORDER_SOURCE": f"fixtures:{paid_orders}",
        "ROLES_FILE": str(roles),
        "REFUND_GATEWAY": "stripe",
        "STRIPE_API_KEY": API_KEY,
        "REFUND_LEASE_SECONDS": "2",
        "REFUND_SETTLE_SECONDS": "2",
    }
    workspace = emulator.workspace
    with FaultyStripe(stripe) as proxy:
        # The provider acts on the refund only after three leases: a worker that stopped
        # renewing its claim would see nothing there and send it again.
        proxy.plan(REFUND_POST, Fault.delay_effect(6.0))
        api = emulator.api_url
        with (
            app_process(tmp_path / "a", api, STRIPE_API_BASE=proxy.url, **env) as a,
            app_process(tmp_path / "b", api, STRIPE_API_BASE=proxy.url, **env) as b,
        ):
            async with (
                SlackDriver(a.url, a.secret, workspace, emulator.base_url) as on_a,
                SlackDriver(b.url, b.secret, workspace, emulator.base_url) as on_b,
            ):
                await on_a.command(
                    "open ORD-1003 not as described the fibre differs", user="U0SUPER"
                )
                answer = await propose(
                    on_a,
                    workspace,
                    "ORD-1003",
                    "U0MANAGER1",
                    kind="partial_refund",
                    amount="25.00",
                    override_reason="photos by email",
                )
                assert answer.content in (b"", b"null"), answer.text
                card = await eventually(
                    lambda: find_reply(workspace, "ORD-1003", "proposal.approve")
                )
                await on_b.block_action("proposal.approve", user="U0SUPER", message_ts=card.ts)
                await customer_accepts((a, b), "ORD-1003")  # either replica serves the page
                await eventually(lambda: find_reply(workspace, "ORD-1003", "Refunded *"), 40)
                await asyncio.sleep(2.5)  # a wrongly taken-over claim would have sent again
        assert len(proxy.forwarded_posts()) == 1
    payment = payment_of(paid_orders, "ORD-1003")
    assert [r["amount"] for r in await refunds_at(stripe, payment)] == [2500]
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT status, fence, sends FROM refund_requests"))
        assert rows.all() == [("succeeded", 1, 1)]
    await engine.dispose()
    verify = run_cli(tmp_path, "audit", "verify", DATABASE_URL=url)
    assert verify.returncode == 0, verify.stdout + verify.stderr
