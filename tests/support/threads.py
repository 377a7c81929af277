"""Dispute threads in tests: one replica's publisher and outbox against the emulator, a dispute
opened to post, and the thread columns of its row."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from bot.settings import default_policy_pack
from connectors.orders.evidence_sources import default_evidence_sources
from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.intake import IntakeResult, IntakeService, OpenRequest
from disputes.policy_decisions import PolicyService
from disputes.thread_locks import ThreadLocks
from disputes.thread_outbox import ThreadClaims, ThreadOutbox, ThreadTimings
from handlers.slack_client import LimitedWebClient, retry_after
from handlers.slack_limits import RateGate
from handlers.threads import ThreadPublisher
from policies.current import CurrentPack
from sandbox.slack.server import EmulatorServer
from storage.db import Database
from tests.support.orders import StaticOrders, order

CHANNEL = "C0DISPUTES"
FAST = ThreadTimings(lease=timedelta(seconds=30), poll_seconds=0.2)


@dataclass
class Replica:
    """One app's share of the world: its database handle, publisher and outbox."""

    db: Database
    threads: ThreadPublisher
    outbox: ThreadOutbox
    client: LimitedWebClient

    async def aclose(self) -> None:
        await self.threads.locks.aclose()
        await self.client.aclose()


def replica(
    db: Database, emulator: EmulatorServer, *, max_wait: float = 20, timeout: int = 30
) -> Replica:
    client = LimitedWebClient(
        gate=RateGate(retry_after, max_wait=max_wait),
        token=emulator.workspace.bot_token,
        base_url=emulator.api_url,
        timeout=timeout,
    )
    current = CurrentPack(default_policy_pack())
    claims = ThreadClaims(db, FAST)
    threads = ThreadPublisher(
        client,
        CHANNEL,
        DisputeService(db),
        PolicyService(db, current),
        locks=ThreadLocks(db),
        claims=claims,
    )
    outbox = ThreadOutbox(claims, threads.post_claimed)
    threads.on_late = outbox.wake
    return Replica(db, threads, outbox, client)


async def open_dispute(db: Database) -> int:
    return (await open_claimed(db)).case.dispute.number


async def open_claimed(db: Database, claims: ThreadClaims | None = None) -> IntakeResult:
    """ORD-T1 opened; with `claims`, its thread claimed at intake for the opener to post."""
    intake = IntakeService(
        db,
        StaticOrders(order()),
        default_evidence_sources(),
        policy=CurrentPack(default_policy_pack()),
        thread_claims=claims,
    )
    return await intake.open(OpenRequest("ORD-T1", None, "crushed", Actor.system("t")))


async def thread_columns(db: Database, number: int) -> tuple:
    async with db.engine.connect() as connection:
        return tuple(
            (
                await connection.execute(
                    text(
                        "SELECT thread_ts, thread_due_at, thread_lease_until, thread_attempts, "
                        "thread_error FROM disputes WHERE number = :n"
                    ),
                    {"n": number},
                )
            ).one()
        )


async def outbox_posts(app: Replica, db: Database, number: int) -> None:
    app.outbox.start()
    try:
        app.threads.on_late()
        await posted(db, number)
    finally:
        await app.outbox.stop()


async def posted(db: Database, number: int) -> None:
    """Until the dispute's thread is no longer due (polled: another task posts it)."""
    for _ in range(400):
        if (await thread_columns(db, number))[1] is None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the thread is still due")


def thread_recorded(database: Path, thread_ts: str) -> bool:
    """Whether the app (on the SQLite file `database`) has recorded the thread at `thread_ts`
    and its cards: it does so after the last of them is posted, so a thread can be all in Slack
    a moment before its dispute knows it."""
    with sqlite3.connect(database) as db:
        found = db.execute(
            "SELECT 1 FROM disputes WHERE thread_ts = ? AND policy_card_ts IS NOT NULL",
            (thread_ts,),
        ).fetchone()
    return found is not None
