"""Review → proposal → approval → exactly one refund, against localstripe as the provider."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bot.demo_world import find_reply, request_changes, thread_of
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from tests.integration.test_cli import run as run_cli
from tests.support.app_process import MONEY_ROLES, AppProcess, app_process, money_app_process
from tests.support.customer import customer_accepts
from tests.support.localstripe import (
    API_KEY,
)

ROLES = MONEY_ROLES


@pytest.fixture(scope="module")
def money_app(
    emulator: EmulatorServer,
    stripe: str,
    paid_orders: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AppProcess]:
    tmp = tmp_path_factory.mktemp("money")
    with money_app_process(tmp, emulator.api_url, stripe=stripe, paid_orders=paid_orders) as app:
        yield app


@pytest.fixture
async def slack(money_app: AppProcess, emulator: EmulatorServer) -> AsyncIterator[SlackDriver]:
    async with SlackDriver(
        money_app.url, money_app.secret, emulator.workspace, emulator.base_url
    ) as driver:
        yield driver


async def refunds_at(stripe: str, payment: str) -> list[dict]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        answer = await client.get(f"{stripe}/v1/refunds", params={"payment_intent": payment})
        return list(answer.json()["data"])


def payment_of(paid_orders: Path, order_id: str) -> str:
    return json.loads((paid_orders / f"{order_id}.json").read_text())["payment"]["reference"]


async def propose(
    slack: SlackDriver, ws: Workspace, order_id: str, user: str, **values: str
) -> httpx.Response:
    card = await eventually(lambda: find_reply(ws, order_id, "review.start"))
    before = ws.top_view(user)
    await slack.block_action("review.start", user=user, message_ts=card.ts)
    opened = await eventually(lambda: (v := ws.top_view(user)) and v is not before and v)
    assert "Resolve" in opened.view["title"]["text"]
    fields = {name: {name: value} for name, value in values.items()}
    return await slack.view_submission(fields, user=user, view_id=opened.id)


async def test_approve_moves_exactly_one_refund_and_reports_it(
    slack: SlackDriver,
    workspace: Workspace,
    stripe: str,
    paid_orders: Path,
    money_app: AppProcess,
) -> None:
    await slack.command("open ORD-1003 not as described fibre differs", user="U0MANAGER1")
    await eventually(lambda: find_reply(workspace, "ORD-1003", "review.start"))
    reply = await propose(
        slack,
        workspace,
        "ORD-1003",
        "U0MANAGER1",
        kind="partial_refund",
        amount="30.00",
        note="goodwill",
    )
    assert reply.status_code == 200 and reply.content in (b"", b"null")
    proposal = await eventually(lambda: find_reply(workspace, "ORD-1003", "proposal.approve"))
    # A partial refund is put to the customer once approved: the button says so.
    assert "Approve the offer?" in json.dumps(proposal.blocks)

    # A double click: two signed requests for the same button.
    clicks = [
        slack.block_action("proposal.approve", user="U0MANAGER2", message_ts=proposal.ts)
        for _ in range(2)
    ]
    assert [r.status_code for r in await asyncio.gather(*clicks)] == [200, 200]
    await customer_accepts(money_app, "ORD-1003")
    outcome = await eventually(lambda: find_reply(workspace, "ORD-1003", "Refunded *"), within=30)
    assert "30.00 USD" in json.dumps(outcome.blocks)
    await asyncio.sleep(1)  # let a wrongly duplicated execution show itself
    refunds = await refunds_at(stripe, payment_of(paid_orders, "ORD-1003"))
    assert [(r["amount"], r["metadata"]["dispute"]) for r in refunds] == [(3000, "D-1")]
    parent = thread_of(workspace, "ORD-1003")[0]
    assert parent.text.endswith("Resolved")
    with sqlite3.connect(money_app.database) as db:
        assert db.execute("SELECT status FROM refund_requests").fetchall() == [("succeeded",)]
    # Closed: the review's buttons give way to how it ended.
    policy = await eventually(lambda: find_reply(workspace, "ORD-1003", "policy.why"))
    closed = await eventually(lambda: "review.start" not in json.dumps(policy.blocks))
    assert closed
    assert "Partial refund 30.00 USD, approved by <@U0MANAGER2>" in json.dumps(policy.blocks)
    shown = await slack.command("show D-1", user="U0MANAGER1")
    assert shown.status_code == 200
    answer = await eventually(
        lambda: next(
            (
                e
                for e in workspace.ephemerals_for("U0MANAGER1")
                if "approved by" in e.text + json.dumps(e.blocks)
            ),
            None,
        )
    )
    assert "refunded 30.00 USD" in json.dumps(answer.blocks)


async def test_invalid_modal_input_gets_field_errors_and_saves_nothing(
    slack: SlackDriver, workspace: Workspace, money_app: AppProcess
) -> None:
    await slack.command("open ORD-1004", user="U0MANAGER2")
    await eventually(lambda: find_reply(workspace, "ORD-1004", "review.start"))
    cases = [
        ({"kind": "partial_refund", "amount": "abc"}, "amount"),
        ({"kind": "partial_refund", "amount": "-5"}, "amount"),
        ({"kind": "partial_refund", "amount": "0"}, "amount"),
        ({"kind": "partial_refund", "amount": "10.001"}, "amount"),
        ({"kind": "partial_refund", "amount": "10 EUR"}, "amount"),
        ({"kind": "partial_refund", "amount": "9999.00"}, "amount"),
        ({"kind": "partial_refund"}, "amount"),
        ({"kind": "partial_refund", "amount": "5.00", "percent": "10"}, "amount"),
        ({"kind": "partial_refund", "percent": "0"}, "percent"),
    ]
    for values, field in cases:
        reply = await propose(slack, workspace, "ORD-1004", "U0MANAGER2", **values)
        body = reply.json()
        assert body["response_action"] == "errors", values
        assert field in body["errors"], (values, body)
    with sqlite3.connect(money_app.database) as db:
        query = (
            "SELECT count(*) FROM proposals JOIN disputes ON disputes.id = proposals.dispute_id "
            "WHERE disputes.order_id = 'ORD-1004'"
        )
        assert db.execute(query).fetchone() == (0,)


async def test_no_role_is_refused_and_audited_over_limit_needs_a_supervisor(
    slack: SlackDriver,
    workspace: Workspace,
    money_app: AppProcess,
    stripe: str,
    paid_orders: Path,
) -> None:
    await slack.command("open ORD-1002 defective", user="U0MANAGER1")
    await eventually(lambda: find_reply(workspace, "ORD-1002", "review.start"))
    await propose(
        slack,
        workspace,
        "ORD-1002",
        "U0MANAGER1",
        kind="store_credit",
        override_reason="photos come later",
    )
    proposal = await eventually(lambda: find_reply(workspace, "ORD-1002", "proposal.approve"))
    seen = len(workspace.ephemerals_for("U0AGENT"))
    await slack.block_action("proposal.approve", user="U0AGENT", message_ts=proposal.ts)
    refusal = await eventually(
        lambda: next((e.text for e in workspace.ephemerals_for("U0AGENT")[seen:]), None)
    )
    assert "cannot approve" in refusal
    with sqlite3.connect(money_app.database) as db:
        actions = [a for (a,) in db.execute("SELECT action FROM audit_entries")]
    assert "approval.refused" in actions
    assert await refunds_at(stripe, payment_of(paid_orders, "ORD-1002")) == []


async def test_two_managers_approving_at_once_make_one_refund(
    slack: SlackDriver,
    workspace: Workspace,
    stripe: str,
    paid_orders: Path,
    money_app: AppProcess,
) -> None:
    await slack.command("open ORD-1006 size too large", user="U0SUPER")
    await eventually(lambda: find_reply(workspace, "ORD-1006", "review.start"))
    await propose(slack, workspace, "ORD-1006", "U0SUPER", kind="partial_refund", percent="10")
    card = await eventually(lambda: find_reply(workspace, "ORD-1006", "proposal.approve"))
    clicks = [
        slack.block_action("proposal.approve", user=user, message_ts=card.ts)
        for user in ("U0MANAGER1", "U0MANAGER2")
    ]
    await asyncio.gather(*clicks)
    await customer_accepts(money_app, "ORD-1006")
    await eventually(lambda: find_reply(workspace, "ORD-1006", "Refunded *"), within=30)
    await asyncio.sleep(1)
    refunds = await refunds_at(stripe, payment_of(paid_orders, "ORD-1006"))
    assert len(refunds) == 1
    loser = [e.text for u in ("U0MANAGER1", "U0MANAGER2") for e in workspace.ephemerals_for(u)]
    assert any("already approved" in text for text in loser)


async def test_over_the_limit_goes_to_a_supervisor(
    slack: SlackDriver, workspace: Workspace, stripe: str, paid_orders: Path
) -> None:
    # ORD-1023: a 549.00 espresso machine, 120.00 refunded; the rest is over managers' 200.00.
    await slack.command("open ORD-1023 damaged dented", user="U0MANAGER1")
    await eventually(lambda: find_reply(workspace, "ORD-1023", "review.start"))
    await propose(
        slack,
        workspace,
        "ORD-1023",
        "U0MANAGER1",
        kind="full_refund",
        override_reason="photos are on the way",
    )
    card = await eventually(lambda: find_reply(workspace, "ORD-1023", "proposal.approve"))
    assert "photos are on the way" in json.dumps(card.blocks)  # the approver sees the override
    pings = await eventually(lambda: workspace.history("C0SUPERVISORS"))
    ping = pings[-1]
    alert = json.dumps(ping.blocks)
    assert "needs a supervisor" in alert and "Full refund" in alert and "429.00 USD" in alert
    assert "proposed by <@U0MANAGER1>" in alert and "Open the thread" in alert
    seen = len(workspace.ephemerals_for("U0MANAGER2"))
    await slack.block_action("proposal.approve", user="U0MANAGER2", message_ts=card.ts)
    refusal = await eventually(
        lambda: next((e.text for e in workspace.ephemerals_for("U0MANAGER2")[seen:]), None)
    )
    assert "supervisor" in refusal.lower()
    await slack.block_action("proposal.approve", user="U0SUPER", message_ts=card.ts)
    outcome = await eventually(lambda: find_reply(workspace, "ORD-1023", "Refunded *"), within=30)
    assert "429.00 USD" in json.dumps(outcome.blocks)

    # The alert says who handled it; the proposer hears it was approved.
    def handled() -> str | None:
        message = workspace.message("C0SUPERVISORS", ping.ts)
        shown = json.dumps(message.blocks) if message else ""
        return shown if "Handled" in shown else None

    assert "approved by <@U0SUPER>" in await eventually(handled)
    told = await eventually(lambda: workspace.history(workspace.dm_id("U0MANAGER1")))
    assert any("<@U0SUPER> approved your Proposal 1 for D-" in json.dumps(m.blocks) for m in told)
    refunds = await refunds_at(stripe, payment_of(paid_orders, "ORD-1023"))
    assert [r["amount"] for r in refunds] == [42900]


async def test_a_full_refund_of_what_was_already_refunded_is_refused_in_the_modal(
    slack: SlackDriver, workspace: Workspace
) -> None:
    # ORD-1004 (wrong item) was refunded in full by the order system: nothing is owed.
    reply = await propose(
        slack, workspace, "ORD-1004", "U0MANAGER1", kind="full_refund", override_reason="checking"
    )
    body = reply.json()
    assert body["response_action"] == "errors"
    assert "already been refunded" in body["errors"]["kind"]


@pytest.mark.postgres
async def test_the_whole_flow_on_postgresql(
    emulator: EmulatorServer, stripe: str, paid_orders: Path, postgres_server: str, tmp_path: Path
) -> None:
    from tests.conftest import _fresh_postgres_database

    url = await _fresh_postgres_database(postgres_server)
    roles = tmp_path / "roles.yml"
    roles.write_text(ROLES)
    workspace = emulator.workspace
    with app_process(
        tmp_path,
        emulator.api_url,
        DATABASE_URL=url,
        ORDER_SOURCE=f"fixtures:{paid_orders}",
        ROLES_FILE=str(roles),
        REFUND_GATEWAY="stripe",
        STRIPE_API_KEY=API_KEY,
        STRIPE_API_BASE=stripe,
    ) as app:
        async with SlackDriver(app.url, app.secret, workspace, emulator.base_url) as slack:
            await slack.command("open ORD-1001 damaged crushed box", user="U0MANAGER1")
            await eventually(lambda: find_reply(workspace, "ORD-1001", "review.start"))
            await propose(
                slack, workspace, "ORD-1001", "U0MANAGER1", kind="partial_refund", amount="40.00"
            )
            card = await eventually(lambda: find_reply(workspace, "ORD-1001", "proposal.approve"))
            await asyncio.gather(
                *(
                    slack.block_action("proposal.approve", user="U0SUPER", message_ts=card.ts)
                    for _ in range(2)
                )
            )
            await customer_accepts(app, "ORD-1001")
            await eventually(lambda: find_reply(workspace, "ORD-1001", "Refunded *"), within=30)
    refunds = await refunds_at(stripe, payment_of(paid_orders, "ORD-1001"))
    assert [r["amount"] for r in refunds] == [4000]
    verify = run_cli(tmp_path, "audit", "verify", DATABASE_URL=url)
    assert verify.returncode == 0 and "intact" in verify.stdout


async def test_request_changes_sends_the_proposal_back_to_review(
    slack: SlackDriver, workspace: Workspace, money_app: AppProcess
) -> None:
    await slack.command("open ORD-1005 size too small", user="U0MANAGER1")
    await eventually(lambda: find_reply(workspace, "ORD-1005", "review.start"))
    await propose(slack, workspace, "ORD-1005", "U0MANAGER1", kind="store_credit")
    card = await eventually(lambda: find_reply(workspace, "ORD-1005", "proposal.changes"))
    await request_changes(slack, workspace, "ORD-1005", "U0SUPER", "offer a <partial> refund")
    await eventually(lambda: "proposal.approve" not in json.dumps(card.blocks))
    shown = json.dumps(card.blocks)
    assert "Changes requested by <@U0SUPER>: offer a &lt;partial&gt; refund" in shown
    # The proposer hears of it directly, with the reason.
    told = await eventually(
        lambda: next(
            (
                json.dumps(m.blocks)
                for m in workspace.history(workspace.dm_id("U0MANAGER1"))
                if "asked for changes" in json.dumps(m.blocks)
            ),
            None,
        )
    )
    assert "asked for changes to your Proposal 1 for D-" in told
    assert "offer a &lt;partial&gt; refund" in told
    parent = thread_of(workspace, "ORD-1005")[0]
    await eventually(lambda: parent.text.endswith("In review"))
    # Back in review: a new proposal can be made, with its own buttons.
    await propose(slack, workspace, "ORD-1005", "U0MANAGER1", kind="replacement")
    fresh = await eventually(lambda: find_reply(workspace, "ORD-1005", "proposal.approve"))
    assert fresh.ts != card.ts and "Replacement" in json.dumps(fresh.blocks)


def test_every_audit_chain_verifies_at_the_end(money_app: AppProcess, tmp_path: Path) -> None:
    result = run_cli(
        tmp_path, "audit", "verify", DATABASE_URL=f"sqlite+aiosqlite:///{money_app.database}"
    )
    assert (result.returncode, result.stdout.strip()) == (0, "audit chain intact for all disputes")
