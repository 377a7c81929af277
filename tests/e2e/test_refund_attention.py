"""A payment provider that stops answering after it took a refund: the thread hears once that
the outcome is unknown, once that it needs attention (and the supervisors' channel once, and
App Home lists it), and once that it was refunded when the provider is back — one refund."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.waiting import eventually
from tests.e2e.test_refunds import ROLES, find_reply, payment_of, propose, thread_of
from tests.integration.test_cli import run as run_cli
from tests.support.app_process import app_process
from tests.support.customer import customer_accepts
from tests.support.faulty_stripe import REFUND_LOOKUP, REFUND_POST, Fault, FaultyStripe, refunds_at
from tests.support.localstripe import API_KEY

SUPERVISORS = "C0SUPERVISORS"
PASS = Fault.slow(0)  # forwarded and answered at once


async def test_a_provider_that_stops_answering_brings_in_a_person_once(
    emulator: EmulatorServer, stripe: str, paid_orders: Path, tmp_path: Path
) -> None:
    roles = tmp_path / "roles.yml"
    roles.write_text(ROLES)
    workspace = emulator.workspace
    with FaultyStripe(stripe) as proxy:
        env = {
            "ORDER_SOURCE": f"fixtures:{paid_orders}",
            "ROLES_FILE": str(roles),
            "REFUND_GATEWAY": "stripe",
            "STRIPE_API_KEY": API_KEY,
            "STRIPE_API_BASE": proxy.url,
            "SUPERVISORS_CHANNEL": "#dispute-supervisors",
            "REFUND_LEASE_SECONDS": "4",
            "REFUND_SETTLE_SECONDS": "1",
            "REFUND_ATTENTION_AFTER": "3",
        }
        with app_process(tmp_path, emulator.api_url, **env) as app:
            async with SlackDriver(app.url, app.secret, workspace, emulator.base_url) as slack:
                await slack.command("open ORD-1001 damaged crushed box", user="U0MANAGER1")
                await propose(
                    slack,
                    workspace,
                    "ORD-1001",
                    "U0MANAGER1",
                    kind="partial_refund",
                    amount="15.00",
                )
                card = await eventually(
                    lambda: find_reply(workspace, "ORD-1001", "proposal.approve")
                )
                alerts_before = len(workspace.history(SUPERVISORS))
                proxy.plan(REFUND_POST, Fault.lose_answer(hold=2))
                await slack.block_action("proposal.approve", user="U0SUPER", message_ts=card.ts)
                await customer_accepts(app, "ORD-1001")
                await eventually(lambda: proxy.count(REFUND_POST, forwarded=True) == 1, 30)
                # The provider took the refund; its answer is held, and it stops answering.
                proxy.plan(REFUND_LOOKUP, Fault.status(503), times=None)
                await eventually(lambda: find_reply(workspace, "ORD-1001", "not known yet"), 30)
                await eventually(lambda: find_reply(workspace, "ORD-1001", "needs attention*"), 30)
                await eventually(lambda: len(workspace.history(SUPERVISORS)) > alerts_before)
                await eventually(
                    lambda: thread_of(workspace, "ORD-1001")[0].text.endswith("Needs attention")
                )
                await asyncio.sleep(3)  # more failed look-ups: no more messages
                await slack.event({"type": "app_home_opened", "user": "U0SUPER", "tab": "home"})
                home = await eventually(lambda: workspace.home_views.get("U0SUPER"))
                await eventually(lambda: "need" in json.dumps(home.to_slack()["blocks"]))
                assert "1 refund needs attention" in json.dumps(home.to_slack()["blocks"])
                proxy.clear()  # the provider answers again
                await eventually(lambda: find_reply(workspace, "ORD-1001", "Refunded *"), 30)
                await eventually(
                    lambda: thread_of(workspace, "ORD-1001")[0].text.endswith("Resolved")
                )
        alerts = workspace.history(SUPERVISORS)[alerts_before:]
        assert ["needs attention" in m.text for m in alerts] == [True]
        assert len(proxy.forwarded_posts()) == 1
    news = [m.text for m in thread_of(workspace, "ORD-1001") if m.text.startswith("D-1: refund")]
    assert news == [
        "D-1: refund of 15.00 USD sent, outcome not known yet",
        "D-1: refund of 15.00 USD needs attention",
        "D-1: refund of 15.00 USD refunded",
    ]
    payment = payment_of(paid_orders, "ORD-1001")
    assert [r["amount"] for r in await refunds_at(stripe, payment)] == [1500]
    with sqlite3.connect(app.database) as db:
        assert db.execute("SELECT status, sends FROM refund_requests").fetchall() == [
            ("succeeded", 1)
        ]
    verify = run_cli(
        tmp_path, "audit", "verify", DATABASE_URL=f"sqlite+aiosqlite:///{app.database}"
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


async def test_retry_in_the_thread_finds_a_refund_that_was_taken_as_refused(
    emulator: EmulatorServer, stripe: str, paid_orders: Path, tmp_path: Path
) -> None:
    roles = tmp_path / "roles.yml"
    roles.write_text(ROLES)
    workspace = emulator.workspace
    with FaultyStripe(stripe) as proxy:
        env = {
            "ORDER_SOURCE": f"fixtures:{paid_orders}",
            "ROLES_FILE": str(roles),
            "REFUND_GATEWAY": "stripe",
            "STRIPE_API_KEY": API_KEY,
            "STRIPE_API_BASE": proxy.url,
            "REFUND_SETTLE_SECONDS": "1",
        }
        with app_process(tmp_path, emulator.api_url, **env) as app:
            async with SlackDriver(app.url, app.secret, workspace, emulator.base_url) as slack:
                await slack.command("open ORD-1003 not as described", user="U0MANAGER1")
                await propose(
                    slack,
                    workspace,
                    "ORD-1003",
                    "U0MANAGER1",
                    kind="partial_refund",
                    amount="12.00",
                )
                card = await eventually(
                    lambda: find_reply(workspace, "ORD-1003", "proposal.approve")
                )
                # A proxy answers 400 after the provider refunded, and the check that follows
                # cannot reach the provider either: the refund is taken as refused.
                proxy.plan(REFUND_LOOKUP, PASS, times=2)  # the reads at approval and to send
                proxy.plan(REFUND_POST, Fault.status_after_forward(400))
                proxy.plan(REFUND_LOOKUP, Fault.status(503), times=6)  # 3 attempts, twice
                await slack.block_action("proposal.approve", user="U0SUPER", message_ts=card.ts)
                await customer_accepts(app, "ORD-1003")
                refused = await eventually(
                    lambda: find_reply(workspace, "ORD-1003", "refund.retry"), 30
                )
                assert "was refused" in json.dumps(refused.blocks)
                await asyncio.sleep(1.2)  # the refusal's settling time
                seen = len(workspace.ephemerals_for("U0MANAGER2"))
                await slack.block_action("refund.retry", user="U0MANAGER2", message_ts=refused.ts)
                answer = await eventually(lambda: workspace.ephemerals_for("U0MANAGER2")[seen:], 30)
                assert "could not be asked" in answer[0].text
                proxy.clear()
                await slack.block_action("refund.retry", user="U0SUPER", message_ts=refused.ts)
                found = await eventually(
                    lambda: find_reply(workspace, "ORD-1003", "refunded after all"), 30
                )
                assert "Nothing new was sent" in json.dumps(found.blocks)
                await eventually(
                    lambda: thread_of(workspace, "ORD-1003")[0].text.endswith("Resolved")
                )
        assert len(proxy.forwarded_posts()) == 1
    payment = payment_of(paid_orders, "ORD-1003")
    assert [r["amount"] for r in await refunds_at(stripe, payment)] == [1200]
    with sqlite3.connect(app.database) as db:
        assert db.execute("SELECT status, sends FROM refund_requests").fetchall() == [
            ("succeeded", 1)
        ]
    verify = run_cli(
        tmp_path, "audit", "verify", DATABASE_URL=f"sqlite+aiosqlite:///{app.database}"
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
