"""The app killed (SIGKILL) with a refund on the wire: after a restart the refund is found at the
provider and recorded, never sent twice — whether the provider refunded before the kill (its
answer lost) or acted on the request only after the process was gone."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.waiting import eventually
from tests.e2e.test_refunds import ROLES, find_reply, payment_of, propose, thread_of
from tests.integration.test_cli import run as run_cli
from tests.support.app_process import app_process
from tests.support.customer import customer_accepts
from tests.support.faulty_stripe import REFUND_POST, Fault, FaultyStripe, refunds_at
from tests.support.localstripe import API_KEY


@pytest.mark.parametrize(
    ("order_id", "fault"),
    [
        ("ORD-1005", Fault.lose_answer()),  # refunded at once; the answer never arrives
        ("ORD-1006", Fault.delay_effect(1.5)),  # the provider acts after the kill
    ],
)
async def test_killed_with_the_refund_on_the_wire_refunds_once_after_a_restart(
    emulator: EmulatorServer,
    stripe: str,
    paid_orders: Path,
    tmp_path: Path,
    order_id: str,
    fault: Fault,
) -> None:
    roles = tmp_path / "roles.yml"
    roles.write_text(ROLES)
    env = {
        "ORDER_SOURCE": f"fixtures:{paid_orders}",
        "ROLES_FILE": str(roles),
        "REFUND_GATEWAY": "stripe",
        "STRIPE_API_KEY": API_KEY,
        "REFUND_LEASE_SECONDS": "3",
        "REFUND_SETTLE_SECONDS": "5",
    }
    workspace = emulator.workspace
    payment = payment_of(paid_orders, order_id)
    with FaultyStripe(stripe) as proxy:
        proxy.plan(REFUND_POST, fault)
        with app_process(tmp_path, emulator.api_url, STRIPE_API_BASE=proxy.url, **env) as first:
            async with SlackDriver(first.url, first.secret, workspace, emulator.base_url) as s:
                await s.command(f"open {order_id} size too small", user="U0MANAGER1")
                await propose(
                    s, workspace, order_id, "U0MANAGER1", kind="partial_refund", amount="20.00"
                )
                card = await eventually(lambda: find_reply(workspace, order_id, "proposal.approve"))
                await s.block_action("proposal.approve", user="U0SUPER", message_ts=card.ts)
                await customer_accepts(first, order_id)
                await eventually(lambda: proxy.count(REFUND_POST, forwarded=None) >= 1, 30)
            first.process.kill()  # SIGKILL: no chance to hear or record anything
            first.process.wait(10)
            with sqlite3.connect(first.database) as db:
                rows = db.execute("SELECT status, sends FROM refund_requests").fetchall()
            assert rows == [("in_flight", 1)]
            database = first.database

        again = {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
        with app_process(tmp_path / "again", emulator.api_url, STRIPE_API_BASE=proxy.url, **again):
            outcome = await eventually(lambda: find_reply(workspace, order_id, "Refunded *"), 40)
            assert "20.00 USD" in json.dumps(outcome.blocks)
            # The parent's status follows the outcome message: wait for it before stopping.
            await eventually(lambda: thread_of(workspace, order_id)[0].text.endswith("Resolved"))
        assert len(proxy.forwarded_posts()) == 1
    with sqlite3.connect(database) as db:
        ((status, sends, attempts),) = db.execute(
            "SELECT status, sends, attempts FROM refund_requests"
        )
    assert (status, sends, attempts) == ("succeeded", 1, 2)
    assert [r["amount"] for r in await refunds_at(stripe, payment)] == [2000]
    verify = run_cli(tmp_path, "audit", "verify", DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    assert verify.returncode == 0, verify.stdout + verify.stderr
