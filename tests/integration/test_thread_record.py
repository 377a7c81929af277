"""What a new thread's publish writes, against the emulator over HTTP: the posts first, then
one write of the dispute (its thread, its cards, the move to evidence-ready) with the claim's
end; a thread linked meanwhile keeps the dispute, and the cards go to it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event, select, update

from disputes.case_files import DisputeService
from handlers.thread_marks import mark
from sandbox.slack.server import EmulatorServer
from storage.db import Database
from storage.tables import AuditRow, DisputeRow
from tests.support.threads import (
    CHANNEL,
    Replica,
    open_dispute,
    outbox_posts,
    replica,
    thread_columns,
)


class DisputeWrites:
    """The UPDATEs of the disputes table run while listening."""

    def __init__(self, db: Database) -> None:
        self.statements: list[str] = []
        event.listen(db.engine.sync_engine, "before_cursor_execute", self.hook)

    def hook(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        words = " ".join(statement.split())
        if words.startswith("UPDATE disputes SET"):
            self.statements.append(words)


def after_the_parent(app: Replica, then: Callable[[], Awaitable[object]]) -> Any:
    """Make `then` happen right after `app` posts a parent message; its own way to post one."""
    post_parent = app.threads._post_parent

    async def posted_then(*args: Any, **kwargs: Any) -> tuple[str, str, bool]:
        posted = await post_parent(*args, **kwargs)
        await then()
        return posted

    app.threads._post_parent = posted_then  # type: ignore[method-assign]
    return post_parent


async def test_a_new_thread_is_recorded_in_one_write_after_its_posts(
    db: Database, emulator: EmulatorServer
) -> None:
    number = await open_dispute(db)
    app = replica(db, emulator)
    writes = DisputeWrites(db)
    try:
        case = await app.threads.publish(await app.threads.disputes.case(number))
    finally:
        await app.aclose()
    claim, released, recorded = writes.statements  # nothing in between, the fence first
    assert "thread_fence" in claim and "thread_due_at" in released
    for column in ("thread_ts", "evidence_card_ts", "policy_card_ts", "status"):
        assert f"{column}=" in recorded
    (parent,) = emulator.workspace.history(CHANNEL)
    assert (case.dispute.thread_ts, case.dispute.status.value) == (parent.ts, "evidence_ready")
    assert len(emulator.workspace.thread(CHANNEL, parent.ts)) == 3
    assert (await thread_columns(db, number))[:2] == (parent.ts, None)
    async with db.reading() as session:
        actions = list(
            await session.scalars(
                select(AuditRow.action).where(AuditRow.dispute_id == 1).order_by(AuditRow.seq)
            )
        )
    assert actions[-2:] == ["thread.linked", "status.evidence_completed"]
    assert await DisputeService(db).verify_audit(number) == []


async def test_a_thread_linked_meanwhile_keeps_the_dispute_and_gets_the_cards(
    db: Database, emulator: EmulatorServer
) -> None:
    number = await open_dispute(db)
    app = replica(db, emulator)
    workspace = emulator.workspace
    other = workspace.post_message(
        CHANNEL, text="D-1", user="U0BOT", metadata=mark(number, "parent")
    )
    # As a claim before this one might have, right after this one posted its parent:
    after_the_parent(app, lambda: DisputeService(db).link_thread(number, CHANNEL, other.ts))
    try:
        case = await app.threads.publish(await app.threads.disputes.case(number))
    finally:
        await app.aclose()
    assert case.dispute.thread_ts == other.ts
    assert case.dispute.evidence_card_ts is not None and case.dispute.policy_card_ts is not None
    assert len(workspace.thread(CHANNEL, other.ts)) == 3  # the parent and both cards
    left_out = [m for m in workspace.history(CHANNEL) if m.ts != other.ts]
    assert len(left_out) == 1  # the parent this publish posted: left out, and logged
    assert (await thread_columns(db, number))[:2] == (other.ts, None)


async def test_a_lost_claim_records_nothing_and_its_successor_records_the_parts_once(
    db: Database, emulator: EmulatorServer
) -> None:
    number = await open_dispute(db)
    app = replica(db, emulator)
    workspace = emulator.workspace

    async def taken_over() -> None:  # its lease lapsed: another replica claims the thread
        async with db.transaction() as session:
            await session.execute(
                update(DisputeRow)
                .where(DisputeRow.number == number)
                .values(thread_fence=DisputeRow.thread_fence + 1)
            )

    post_parent = after_the_parent(app, taken_over)
    try:
        case = await app.threads.publish(await app.threads.disputes.case(number))
        assert case.dispute.thread_ts is None  # nothing of the lost claim's posts recorded
        ts, due, *_ = await thread_columns(db, number)
        assert ts is None and due is not None  # still due: the new holder's to post
        (parent,) = workspace.history(CHANNEL)
        assert len(workspace.thread(CHANNEL, parent.ts)) == 3

        app.threads._post_parent = post_parent  # type: ignore[method-assign]
        case = await app.threads.post_claimed(number, 2)  # the new holder finds the parts
    finally:
        await app.aclose()
    assert workspace.history(CHANNEL) == [parent]  # the parent once
    assert len(workspace.thread(CHANNEL, parent.ts)) == 3  # and each card once
    assert case.dispute.thread_ts == parent.ts and case.dispute.policy_card_ts is not None
    assert (await thread_columns(db, number))[:2] == (parent.ts, None)


async def test_a_record_refused_after_every_post_leaves_the_parts_to_be_found_once(
    db: Database, emulator: EmulatorServer
) -> None:
    """The widest window the one write leaves: all three parts are in Slack when the write that
    records them fails (the database went away, the process stopped). The thread stays due; the
    next claim finds the three parts and posts none of them again."""
    number = await open_dispute(db)
    app = replica(db, emulator)
    workspace = emulator.workspace
    record = app.threads.disputes.cards_posted

    async def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionError("the database went away")

    app.threads.disputes.cards_posted = refused  # type: ignore[method-assign]
    try:
        with pytest.raises(ConnectionError):
            await app.threads.publish(await app.threads.disputes.case(number))
        (parent,) = workspace.history(CHANNEL)
        assert len(workspace.thread(CHANNEL, parent.ts)) == 3
        ts, due, _lease, attempts, error = await thread_columns(db, number)
        assert (ts, attempts) == (None, 1) and due is not None and "ConnectionError" in error

        app.threads.disputes.cards_posted = record  # type: ignore[method-assign]
        await outbox_posts(app, db, number)
    finally:
        await app.aclose()
    assert workspace.history(CHANNEL) == [parent]
    thread = workspace.thread(CHANNEL, parent.ts)
    assert len(thread) == 3  # each card once
    posts = workspace.calls_to("chat.postMessage")
    assert len(posts) == 3  # nothing posted by the second claim: found, and updated in place
    case = await app.threads.disputes.case(number)
    assert (case.dispute.thread_ts, case.dispute.evidence_card_ts, case.dispute.policy_card_ts) == (
        parent.ts,
        thread[1].ts,
        thread[2].ts,
    )
    assert case.dispute.status.value == "evidence_ready"
