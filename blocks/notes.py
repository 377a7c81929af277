"""The thread's internal notes as `/dispute show` and the evidence card show them."""

from __future__ import annotations

from typing import Any

from blocks.kit import context
from blocks.text import clip_escaped, date, escape, user
from disputes.models import CaseFile, Note

NOTE_SHOWN = 1000  # characters of one note in `/dispute show`; the thread has the rest


def notes_line(case: CaseFile) -> str:
    """How many of the thread's replies are filed as notes, deleted ones not: "Notes: 3"."""
    return f"Notes: {case.note_count}"


def note_blocks(case: CaseFile) -> list[dict[str, Any]]:
    """The latest notes, newest first: who wrote each and when, then its text as plain text,
    so a note's `*`, `_`, mentions and links are shown as typed, never acted on."""
    if not case.notes:
        return []
    shown = len(case.notes)
    more = f" (the latest {shown} of {case.note_count})" if case.note_count > shown else ""
    blocks = [context(f"*Notes*{more} · internal, never sent to the customer")]
    for note in case.notes:
        blocks.append(context(_byline(note)))
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "plain_text",
                    "text": clip_escaped(escape(note.text), NOTE_SHOWN),
                    "emoji": True,
                },
            }
        )
    return blocks


def _byline(note: Note) -> str:
    edited = f" · edited {date(note.edited_at, with_time=True)}" if note.edited_at else ""
    return f"{user(note.author)} · {date(note.posted_at, with_time=True)}{edited}"
