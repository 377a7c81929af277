"""The thread outbox on SQLite and PostgreSQL, against the emulator over HTTP: a thread Slack
held back is posted later by itself; two replicas (two databases handles, publishers and
outboxes) never post one thread twice; a claim is fenced. Thread locks: test_thread_locks.py."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import event, select, text, update

from bot.settings import default_policy_pack
from connectors.orders.evidence_sources import default_evidence_sources
from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.intake import IntakeService, OpenRequest
from disputes.payments import utcnow
from disputes.policy_decisions import PolicyService
from disputes.thread_locks import ThreadLocks
from disputes.thread_outbox import ThreadClaims, ThreadOutbox, ThreadTimings
from handlers.slack_client import LimitedWebClient, retry_after
from handlers.slack_limits import RateGate
from handlers.thread_marks import mark
from handlers.threads import ThreadPublisher
from policies.current import CurrentPack
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from storage.db import Database
from storage.migrate import migrate
from storage.tables import DisputeRow
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
    intake = IntakeService(
        db,
        StaticOrders(order()),
        default_evidence_sources(),
        policy=CurrentPack(default_policy_pack()),
    )
    result = await intake.open(OpenRequest("ORD-T1", None, "crushed", Actor.system("t")))
    return result.case.dispute.number


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


async def test_a_thread_slack_held_back_is_posted_later_by_itself(
    db: Database, emulator: EmulatorServer
) -> None:
    workspace = emulator.workspace
    app = replica(db, emulator)
    try:
        await _held_back_then_posted(db, workspace, app)
    finally:
        await app.aclose()


async def _held_back_then_posted(db: Database, workspace: Workspace, app: Replica) -> None:
    number = await open_dispute(db)
    workspace.arm_ratelimit("chat.postMessage", retry_after=2)
    with pytest.raises(SlackApiError):  # a command waits 1 s at most: its thread is late
        await app.threads.publish(await app.threads.disputes.case(number), patience=1)
    ts, due, lease, attempts, error = await thread_columns(db, number)
    assert ts is None and due is not None and lease is None
    assert (attempts, error) == (1, "ratelimited")
    assert workspace.history(CHANNEL) == []

    app.outbox.start()
    try:
        app.threads.on_late()  # as the failed post did: the outbox looks at once
        await _posted(db, number)
    finally:
        await app.outbox.stop()
    (parent,) = workspace.history(CHANNEL)
    assert len(workspace.thread(CHANNEL, parent.ts)) == 3  # the parent, then both cards
    ts, due, lease, attempts, error = await thread_columns(db, number)
    assert (ts, due, lease, attempts, error) == (parent.ts, None, None, 2, None)
    assert app.threads.claims.timings.backoff(1) == timedelta(seconds=1)


async def test_a_parent_posted_without_an_answer_is_found_not_posted_twice(
    db: Database, emulator: EmulatorServer
) -> None:
    """Slack posts the parent but answers after the client gave up: the next claim finds the
    parent by its metadata in the channel's history and uses it."""
    workspace = emulator.workspace
    app = replica(db, emulator, timeout=1)
    try:
        number = await open_dispute(db)
        await _publish_answer_lost(app, workspace, number)
        (landed,) = workspace.history(CHANNEL)  # in Slack, unknown to the app
        ts, due, _, attempts, _ = await thread_columns(db, number)
        assert ts is None and due is not None and attempts == 1
        assert workspace.calls_to("conversations.history") == []  # a first post looks nowhere

        await _outbox_posts(app, db, number)
        (parent,) = workspace.history(CHANNEL)
        assert parent.ts == landed.ts
        assert len(workspace.thread(CHANNEL, parent.ts)) == 3  # the parent, then both cards
        parents = [p for p in workspace.calls_to("chat.postMessage") if not p.get("thread_ts")]
        assert len(parents) == 1
        assert (await thread_columns(db, number))[0] == parent.ts
        (looked,) = workspace.calls_to("conversations.history")
        assert looked["include_all_metadata"] in (True, "true", "1")
    finally:
        await app.aclose()


async def test_a_card_posted_without_an_answer_is_found_not_posted_twice(
    db: Database, emulator: EmulatorServer
) -> None:
    """The parent is posted; Slack posts the evidence card but answers too late, so nothing is
    recorded: the next claim finds the parent and the card and posts only what is missing."""
    workspace = emulator.workspace
    app = replica(db, emulator, timeout=1)
    try:
        number = await open_dispute(db)
        await _publish_answer_lost(app, workspace, number, after=1)
        (parent,) = workspace.history(CHANNEL)
        assert [m.text for m in workspace.thread(CHANNEL, parent.ts)][1:] != []  # card landed
        await _outbox_posts(app, db, number)
        thread = workspace.thread(CHANNEL, parent.ts)
        assert len(thread) == 3  # the parent, the evidence card once, the policy card
        parts = [(m.metadata or {}).get("event_payload", {}).get("part") for m in thread]
        assert parts == ["parent", "evidence", "policy"]
        async with db.reading() as session:
            row = await session.scalar(select(DisputeRow).where(DisputeRow.number == number))
        assert row is not None
        assert (row.evidence_card_ts, row.policy_card_ts) == (thread[1].ts, thread[2].ts)
        assert len(workspace.calls_to("conversations.replies")) == 1
    finally:
        await app.aclose()


async def test_a_look_up_slack_refuses_still_ends_with_the_thread_posted(
    db: Database, emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An install without `channels:history` cannot look for a lost post: the thread is posted
    (a parent twice at worst), with a warning, rather than never."""
    workspace = emulator.workspace
    app = replica(db, emulator, timeout=1)
    try:
        number = await open_dispute(db)
        await _publish_answer_lost(app, workspace, number)
        workspace.arm_error("conversations.history", "missing_scope")
        await _outbox_posts(app, db, number)
        _landed, again = workspace.history(CHANNEL)  # oldest first: the one posted again last
        assert len(workspace.thread(CHANNEL, again.ts)) == 3
        assert (await thread_columns(db, number))[0] == again.ts
        assert "could not look for D-1's parent message in Slack (missing_scope)" in caplog.text
    finally:
        await app.aclose()


async def test_a_part_that_only_looks_like_the_apps_is_not_taken_for_it(
    db: Database, emulator: EmulatorServer
) -> None:
    """Someone else's message carrying the app's metadata for the dispute cannot be updated:
    the app posts its own parent and threads the cards under it."""
    workspace = emulator.workspace
    app = replica(db, emulator)
    try:
        number = await open_dispute(db)
        workspace.arm_ratelimit("chat.postMessage", retry_after=2)
        with pytest.raises(SlackApiError):
            await app.threads.publish(await app.threads.disputes.case(number), patience=1)
        fake = workspace.post_message(
            CHANNEL, text="D-1 totally", user="U0AGENT", metadata=mark(number, "parent")
        )
        await _outbox_posts(app, db, number)
        _fake, parent = workspace.history(CHANNEL)
        assert _fake.ts == fake.ts and _fake.text == "D-1 totally"
        assert len(workspace.thread(CHANNEL, parent.ts)) == 3
        assert (await thread_columns(db, number))[0] == parent.ts
    finally:
        await app.aclose()


async def _publish_answer_lost(
    app: Replica, workspace: Workspace, number: int, *, after: int = 0
) -> None:
    """A publish whose post after the first `after` lands in Slack but answers after the
    client (1 s timeout) gave up."""
    workspace.arm_late_answer("chat.postMessage", seconds=2, after=after)
    with pytest.raises(TimeoutError):
        await app.threads.publish(await app.threads.disputes.case(number))


async def _outbox_posts(app: Replica, db: Database, number: int) -> None:
    app.outbox.start()
    try:
        app.threads.on_late()
        await _posted(db, number)
    finally:
        await app.outbox.stop()


async def _posted(db: Database, number: int) -> None:
    """Until the dispute's thread is no longer due (polled: another task posts it)."""
    for _ in range(400):
        if (await thread_columns(db, number))[1] is None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the thread is still due")


async def test_two_replicas_racing_for_one_thread_post_it_once(
    database_url: str, emulator: EmulatorServer
) -> None:
    first = Database(database_url)
    await migrate(first)
    second = Database(database_url)
    a, b = replica(first, emulator), replica(second, emulator)
    try:
        number = await open_dispute(first)
        async with first.transaction() as session:  # due now, as if its command had stopped
            await session.execute(
                update(DisputeRow).values(thread_due_at=utcnow() - timedelta(seconds=1))
            )
        case = await a.threads.disputes.case(number)
        results = await asyncio.gather(
            a.threads.publish(case),
            b.threads.publish(case),
            a.outbox.run_once(),
            b.outbox.run_once(),
            b.threads.refresh(number),
            return_exceptions=True,
        )
        assert not [r for r in results if isinstance(r, BaseException)]
        workspace = emulator.workspace
        (parent,) = workspace.history(CHANNEL)
        assert len(workspace.thread(CHANNEL, parent.ts)) == 3
        parents = [p for p in workspace.calls_to("chat.postMessage") if not p.get("thread_ts")]
        assert len(parents) == 1
        ts, due, lease, _, _ = await thread_columns(first, number)
        assert (ts, due, lease) == (parent.ts, None, None)
    finally:
        await a.aclose()
        await b.aclose()
        await first.dispose()
        await second.dispose()


async def test_a_lost_claim_records_nothing_and_a_lapsed_one_is_taken_over(db: Database) -> None:
    number = await open_dispute(db)
    now = [utcnow()]
    claims = ThreadClaims(db, ThreadTimings(lease=timedelta(seconds=30)), clock=lambda: now[0])
    first = await claims.claim(number)
    assert first is not None and await claims.claim(number) is None  # held
    assert await claims.claim_due(5) == []  # not due yet, and held
    now[0] += timedelta(seconds=31)  # its holder died: the lease lapsed
    ((taken, second),) = await claims.claim_due(5)
    assert (taken, second) == (number, first + 1)
    assert not await claims.posted(number, first)  # the first holder's word counts no more
    assert await claims.failed(number, first, "late") is None
    assert await claims.due_count() == 1
    due = await claims.failed(number, second, "ratelimited")
    assert due == now[0] + timedelta(seconds=2)  # the second attempt failed: 2 s
    assert await claims.next_due() == due
    assert await claims.claim(number) is not None  # a command may try before the backoff ends


async def test_a_dispute_is_opened_with_its_thread_claimed_for_the_opener_to_post(
    db: Database, emulator: EmulatorServer
) -> None:
    app = replica(db, emulator)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(" ".join(str(args[2]).split()))

    try:
        intake = IntakeService(
            db,
            StaticOrders(order()),
            default_evidence_sources(),
            policy=CurrentPack(default_policy_pack()),
            thread_claims=app.threads.claims,
        )
        opened = await intake.open(OpenRequest("ORD-T1", None, "crushed", Actor.system("t")))
        number = opened.case.dispute.number
        assert opened.thread_fence == 1
        _, due, lease, attempts, _ = await thread_columns(db, number)
        assert lease is not None and lease > due and attempts == 1  # held past its due time
        assert await app.threads.claims.claim(number) is None  # nobody else may post it
        assert await app.threads.claims.claim_due(5) == []
        for engine in db.engines:
            event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            case = await app.threads.publish(opened.case, fence=opened.thread_fence)
        finally:
            for engine in db.engines:
                event.remove(engine.sync_engine, "before_cursor_execute", count)
        assert case.dispute.thread_ts is not None and case.dispute.policy_card_ts is not None
        assert len(emulator.workspace.thread(CHANNEL, case.dispute.thread_ts)) == 3
        claiming = "thread_fence=(disputes.thread_fence +"  # a claim's new fence
        assert not [s for s in statements if claiming in s], statements
        assert await thread_columns(db, number) == (case.dispute.thread_ts, None, None, 1, None)
    finally:
        await app.aclose()


async def test_a_thread_claimed_at_intake_and_never_posted_is_taken_over_when_the_lease_lapses(
    db: Database,
) -> None:
    now = [utcnow()]
    claims = ThreadClaims(db, ThreadTimings(lease=timedelta(seconds=30)), clock=lambda: now[0])
    intake = IntakeService(
        db,
        StaticOrders(order()),
        default_evidence_sources(),
        policy=CurrentPack(default_policy_pack()),
        thread_claims=claims,
    )
    opened = await intake.open(OpenRequest("ORD-T1", None, "crushed", Actor.system("t")))
    number, fence = opened.case.dispute.number, opened.thread_fence
    now[0] += timedelta(seconds=20)  # due (10 s after intake), but still held
    assert await claims.claim_due(5) == []
    assert await claims.next_due() == now[0] + timedelta(seconds=10)  # when the lease lapses
    now[0] += timedelta(seconds=11)  # the opener died before posting it
    assert await claims.claim_due(5) == [(number, 2)]
    assert fence == 1 and not await claims.posted(number, fence)  # its word counts no more


async def test_the_upgrade_makes_the_open_disputes_missing_a_thread_due(database_url: str) -> None:
    db = Database(database_url)
    try:
        await migrate(db, "0010")
        async with db.engine.begin() as connection:
            for number, active, thread, card in [
                (1, "ORD-1", None, None),  # open, never posted: due
                (2, "ORD-2", "1.1", None),  # open, its evidence card missing: due
                (3, "ORD-3", "1.2", "1.3"),  # open, posted: nothing due
                (4, None, None, None),  # closed: history, posted only when asked for
            ]:
                await connection.execute(
                    text(
                        "INSERT INTO disputes (id, number, order_id, active_order_key, reason, "
                        "claim, currency, order_total_minor, priority, opened_by, status, "
                        "state_times, required_evidence, created_at, updated_at, version, "
                        "thread_ts, evidence_card_ts) VALUES (:n, :n, :order, :active, "
                        "'DAMAGED', '', 'USD', 100, 'normal', 'U1', 'new', '{}', '[]', :now, "
                        ":now, 1, :thread, :card)"
                    ),
                    {
                        "n": number,
                        "order": f"ORD-{number}",
                        "active": active,
                        "thread": thread,
                        "card": card,
                        "now": utcnow(),
                    },
                )
        await migrate(db)
        claims = ThreadClaims(db)
        assert await claims.due_count() == 2
        assert [n for n, _ in await claims.claim_due(10)] == [1, 2]
        assert await claims.claim(4) is not None  # `/dispute show` may still post it
        await migrate(db, "0010", down=True)
    finally:
        await db.dispose()
