"""Replies in a dispute's thread filed as internal notes: once per message, edits kept in the
history, deletions marked with the text kept, each audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.settings import default_policy_pack
from disputes.case_files import DisputeService
from disputes.notes import MAX_NOTE_CHARS, NoteService
from policies.current import CurrentPack
from storage.db import Database
from storage.tables import AuditRow
from tests.integration.test_policy_flow import open_dispute

CHANNEL, THREAD = "C0DISPUTES", "1700000000.000100"
AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


async def threaded(db: Database) -> NoteService:
    """D-1 with its thread at THREAD in CHANNEL."""
    await open_dispute(db, CurrentPack(default_policy_pack()))
    await DisputeService(db).link_thread(1, CHANNEL, THREAD)
    return NoteService(db)


async def note_audit(db: Database) -> list[tuple[str, str, dict[str, object]]]:
    async with db.reading() as session:
        rows = await session.scalars(
            select(AuditRow).where(AuditRow.action.like("note.%")).order_by(AuditRow.seq)
        )
        return [(row.action, row.actor_id, row.before | row.after) for row in rows]


async def test_a_reply_is_filed_once_and_audited(db: Database) -> None:
    notes = await threaded(db)
    filed = await notes.file(1, CHANNEL, "1700000001.000200", "U0AGENT1", "box\x00 ok", AT)
    assert filed == 1
    # Slack delivering the same message again files nothing new.
    again = await notes.file(1, CHANNEL, "1700000001.000200", "U0AGENT1", "box ok", AT)
    assert again is None
    [note] = await notes.notes_of(1)
    assert (note.author, note.text, note.posted_at, note.deleted_at) == (
        "U0AGENT1",
        "box ok",
        AT,
        None,
    )
    assert [(action, actor) for action, actor, _ in await note_audit(db)] == [
        ("note.added", "U0AGENT1")
    ]
    case = await DisputeService(db).case(1)
    assert (case.note_count, [n.text for n in case.notes]) == (1, ["box ok"])
    assert await DisputeService(db).verify_audit() == []


async def test_replies_without_text_or_dispute_are_not_filed(db: Database) -> None:
    notes = await threaded(db)
    assert await notes.file(2, CHANNEL, "1700000100.0", "U1", "hi", AT) is None
    assert await notes.file(1, CHANNEL, "1700000100.0", "U1", " \n ", AT) is None
    assert await notes.notes_of(1) == []
    assert await note_audit(db) == []


async def test_an_edit_keeps_the_earlier_text(db: Database) -> None:
    notes = await threaded(db)
    await notes.file(1, CHANNEL, "1700000001.000200", "U0AGENT1", "first", AT)
    later = AT + timedelta(minutes=5)
    assert await notes.edit(CHANNEL, "1700000001.000200", "second", later) == 1
    # A link preview added to the message changes nothing: no history, no audit entry.
    assert await notes.edit(CHANNEL, "1700000001.000200", "second", later) is None
    assert await notes.edit(CHANNEL, "1700000009.000000", "not a note", later) is None
    [note] = await notes.notes_of(1)
    assert (note.text, note.edited_at, note.history) == ("second", later, (("first", later),))
    audited = await note_audit(db)
    assert [action for action, _, _ in audited] == ["note.added", "note.edited"]
    assert audited[1][2]["chars"] == len("second")
    assert await DisputeService(db).verify_audit() == []


async def test_a_deletion_keeps_the_text_and_history(db: Database) -> None:
    notes = await threaded(db)
    await notes.file(1, CHANNEL, "1700000001.000200", "U0AGENT1", "first", AT)
    await notes.file(1, CHANNEL, "1700000002.000200", "U0NOROLE", "kept", AT)
    await notes.edit(CHANNEL, "1700000001.000200", "second", AT + timedelta(minutes=1))
    gone = AT + timedelta(minutes=2)
    assert await notes.delete(CHANNEL, "1700000001.000200", gone) == 1
    assert await notes.delete(CHANNEL, "1700000001.000200", gone) is None
    # A deleted note takes no more edits.
    assert await notes.edit(CHANNEL, "1700000001.000200", "third", gone) is None
    deleted, kept = await notes.notes_of(1)
    assert (deleted.text, deleted.deleted_at, [t for t, _ in deleted.history]) == (
        "second",
        gone,
        ["first"],
    )
    assert kept.deleted_at is None
    case = await DisputeService(db).case(1)
    assert (case.note_count, [n.text for n in case.notes]) == (1, ["kept"])
    assert [action for action, _, _ in await note_audit(db)] == [
        "note.added",
        "note.added",
        "note.edited",
        "note.deleted",
    ]
    assert await DisputeService(db).verify_audit() == []


async def test_long_text_is_capped(db: Database) -> None:
    notes = await threaded(db)
    await notes.file(1, CHANNEL, "1700000001.000200", "U1", "x" * (MAX_NOTE_CHARS + 10), AT)
    [note] = await notes.notes_of(1)
    assert len(note.text) == MAX_NOTE_CHARS
