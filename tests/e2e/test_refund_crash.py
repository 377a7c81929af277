"""The app killed (SIGKILL) after the provider refunded but before it recorded the outcome:
after a restart, the refund is found at the provider and recorded, never sent twice."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.driver import SlackDriver
from sandbox.order_service import OrderServiceServer
from sandbox.server import EmulatorServer
from sandbox.waiting import eventually
from tests.e2e.test_refunds import (
    ROLES,
    find_reply,
    payment_of,
    propose,
    refunds_at,
    thread_of,
)
from tests.support.app_process import app_process


def holding_proxy(target: str, forwarded: asyncio.Event, release: asyncio.Event) -> Starlette:
    """Forwards to Stripe; a refund POST is forwarded, then its answer is held back."""

    async def forward(request: Request) -> Response:
        async with httpx.AsyncClient() as client:
            answer = await client.request(
                request.method,
                target + request.url.path,
                params=request.query_params,
                content=await request.body(),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            )
        if request.method == "POST" and request.url.path == "/v1/refunds":
            forwarded.set()
            await release.wait()  # the app is killed while it waits for this answer
        return Response(
            answer.content, answer.status_code, media_type=answer.headers.get("content-type")
        )

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])


async def test_killed_between_sending_and_recording_still_refunds_once(
    emulator: EmulatorServer, stripe: str, paid_orders: Path, tmp_path: Path
) -> None:
    roles = tmp_path / "roles.yml"
    roles.write_text(ROLES)
    env = {
        "ORDER_SOURCE": f"fixtures:{paid_orders}",
        "ROLES_FILE": str(roles),
        "REFUND_GATEWAY": "stripe",
        "STRIPE_API_KEY": "sk_test_crash",
        "REFUND_LEASE_SECONDS": "3",
    }
    workspace = emulator.workspace
    forwarded, release = asyncio.Event(), asyncio.Event()
    async with OrderServiceServer(holding_proxy(stripe, forwarded, release)) as proxy:
        with app_process(tmp_path, emulator.api_url, STRIPE_API_BASE=proxy, **env) as first:
            async with SlackDriver(first.url, first.secret, workspace, emulator.base_url) as s:
                await s.command("open ORD-1005 size too small", user="U0MANAGER1")
                await eventually(lambda: find_reply(workspace, "ORD-1005", "review.start"))
                await propose(
                    s,
                    workspace,
                    "ORD-1005",
                    "U0MANAGER1",
                    kind="partial_refund",
                    amount="20.00",
                    note="size swap failed",
                )
                card = await eventually(
                    lambda: find_reply(workspace, "ORD-1005", "proposal.approve")
                )
                await s.block_action("proposal.approve", user="U0SUPER", message_ts=card.ts)
                await asyncio.wait_for(forwarded.wait(), 30)
            first.process.kill()  # SIGKILL: no chance to record anything
            first.process.wait(10)
            with sqlite3.connect(first.database) as db:
                assert db.execute("SELECT status FROM refund_requests").fetchall() == [
                    ("in_flight",)
                ]
            database = first.database
        release.set()

    restarted_env = {**env, "DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    with app_process(tmp_path / "again", emulator.api_url, STRIPE_API_BASE=stripe, **restarted_env):
        outcome = await eventually(lambda: find_reply(workspace, "ORD-1005", "Refunded"), within=40)
        assert "20.00 USD" in json.dumps(outcome.blocks)
        with sqlite3.connect(database) as db:
            ((status, attempts),) = db.execute("SELECT status, attempts FROM refund_requests")
        assert (status, attempts) == ("succeeded", 2)
    refunds = await refunds_at(stripe, payment_of(paid_orders, "ORD-1005"))
    assert [r["amount"] for r in refunds] == [2000]
    assert thread_of(workspace, "ORD-1005")[0].text.endswith("Resolved")
