"""The thread outbox on SQLite and PostgreSQL, against the emulator over HTTP: a thread Slack
held back is posted later by itself; two replicas (two databases handles, publishers and
outboxes) never post one thread twice. Claims: test_thread_claims.py; thread locks:
test_thread_locks.py."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import select, update

from disputes.payments import utcnow
from handlers.thread_marks import mark
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from storage.db import Database
from storage.migrate import migrate
from storage.tables import DisputeRow
from tests.support.threads import (
    CHANNEL,
    Replica,
    open_dispute,
    outbox_posts,
    posted,
    replica,
    thread_columns,
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
        await posted(db, number)
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

        await outbox_posts(app, db, number)
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
        await outbox_posts(app, db, number)
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
        await outbox_posts(app, db, number)
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
        await outbox_posts(app, db, number)
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
