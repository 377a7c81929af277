"""A person's text reply in a dispute's thread, filed as an internal note: the team talking
about the dispute. Notes are never sent to the customer.

Who may add one: anyone who can post in the thread. Slack's channel membership already decides
who sees and writes there, so a note needs no role from the roles file; a person without any
role still has their reply filed, under their own Slack user id. No other action is given by a
note, so the permission table (`disputes/permissions.py`) is left as it is.

An edit keeps the earlier text in the note's history; a deletion marks the note deleted and
keeps its text: neither is ever lost. Each change is audited in the transaction that makes it,
with a hash of the text, so the audit chain vouches for what each note said.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.models import Note
from disputes.repository import load_row, to_note
from domain.text import clean_text
from storage.db import Database
from storage.tables import DisputeRow, ThreadNoteRow

MAX_NOTE_CHARS = 40_000  # Slack's own limit for a message's text


class NoteService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def file(
        self, number: int, channel: str, message_ts: str, author: str, text: str, at: datetime
    ) -> int | None:
        """File the reply at `message_ts` (in `channel`) as a note of dispute `number`; the
        number, or None when the reply has no text, was already filed (Slack delivers an
        event again when it is not answered in time) or there is no such dispute."""
        cleaned = note_text(text)
        if not cleaned.strip():
            return None

        async def work(session: AsyncSession) -> int | None:
            dispute = await session.scalar(select(DisputeRow).where(DisputeRow.number == number))
            if dispute is None or await _note(session, channel, message_ts) is not None:
                return None
            session.add(
                ThreadNoteRow(
                    dispute_id=dispute.id,
                    channel_id=channel,
                    message_ts=message_ts,
                    author=author,
                    text=cleaned,
                    posted_at=at,
                    history=[],
                )
            )
            await session.flush()
            await audit.append(
                session,
                dispute,
                Actor.slack_user(author),
                "note.added",
                after={"message_ts": message_ts, **_fingerprint(cleaned)},
                at=at,
            )
            return dispute.number

        try:
            return await self.db.run(work)
        except IntegrityError:
            # Another worker filed the same message first (a retry taken by another replica).
            if await self._exists(channel, message_ts):
                return None
            raise

    async def edit(self, channel: str, message_ts: str, text: str, at: datetime) -> int | None:
        """The note's new text, the earlier one kept in its history; the dispute's number, or
        None when the message is no note, is deleted, or its text did not change (Slack also
        reports a message as changed when it adds a link preview)."""
        cleaned = note_text(text)

        async def work(session: AsyncSession) -> int | None:
            note = await _note(session, channel, message_ts)
            if note is None or note.deleted_at is not None or note.text == cleaned:
                return None
            dispute = await session.get_one(DisputeRow, note.dispute_id)
            before = _fingerprint(note.text)
            replaced = {"text": note.text, "until": at.astimezone(UTC).isoformat()}
            note.history = [*note.history, replaced]
            note.text, note.edited_at = cleaned, at
            await audit.append(
                session,
                dispute,
                Actor.slack_user(note.author),
                "note.edited",
                before={"message_ts": message_ts, **before},
                after={"message_ts": message_ts, **_fingerprint(cleaned)},
                at=at,
            )
            return dispute.number

        return await self.db.run(work)

    async def delete(self, channel: str, message_ts: str, at: datetime) -> int | None:
        """Mark the note deleted, keeping its text and history; the dispute's number, or None
        when the message is no note or was already deleted."""

        async def work(session: AsyncSession) -> int | None:
            note = await _note(session, channel, message_ts)
            if note is None or note.deleted_at is not None:
                return None
            dispute = await session.get_one(DisputeRow, note.dispute_id)
            note.deleted_at = at
            # Slack does not say who deleted a message: the entry names the note's author.
            await audit.append(
                session,
                dispute,
                Actor.slack_user(note.author),
                "note.deleted",
                before={"message_ts": message_ts, **_fingerprint(note.text)},
                at=at,
            )
            return dispute.number

        return await self.db.run(work)

    async def notes_of(self, number: int) -> list[Note]:
        """Every note of the dispute, deleted ones included, oldest first."""
        async with self.db.reading() as session:
            row = await load_row(session, number)
            notes = await session.scalars(
                select(ThreadNoteRow)
                .where(ThreadNoteRow.dispute_id == row.id)
                .order_by(ThreadNoteRow.posted_at, ThreadNoteRow.id)
            )
            return [to_note(note) for note in notes]

    async def _exists(self, channel: str, message_ts: str) -> bool:
        async with self.db.reading() as session:
            return await _note(session, channel, message_ts) is not None


def note_text(text: str) -> str:
    """A reply's text as it is stored: cleaned (see `domain.text`) and capped."""
    return clean_text(text)[:MAX_NOTE_CHARS]


async def _note(session: AsyncSession, channel: str, message_ts: str) -> ThreadNoteRow | None:
    return await session.scalar(
        select(ThreadNoteRow).where(
            ThreadNoteRow.channel_id == channel, ThreadNoteRow.message_ts == message_ts
        )
    )


def _fingerprint(text: str) -> dict[str, object]:
    return {"chars": len(text), "sha256": hashlib.sha256(text.encode()).hexdigest()}
