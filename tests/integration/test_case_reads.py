"""Reading a case file looks only for what the dispute can have: no notes before its thread
(a note is a reply in it), no approved proposal while it is new (nothing leads back to new)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from connectors.orders.evidence_sources import default_evidence_sources
from connectors.orders.factory import default_fixtures_path, order_source_from_spec
from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.intake import IntakeService, OpenRequest
from disputes.lifecycle import Status
from disputes.notes import NoteService
from storage.db import Database

MANAGER = Actor.slack_user("U0MANAGER1")


class Reads:
    """The table of the first column each SELECT run while listening reads."""

    def __init__(self, db: Database) -> None:
        self.tables: list[str] = []
        for engine in db.engines:
            event.listen(engine.sync_engine, "before_cursor_execute", self.hook)

    def hook(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        words = " ".join(statement.split())
        if words.startswith("SELECT ") and "." in words:
            self.tables.append(words.removeprefix("SELECT ").split(".", 1)[0])

    def during(self, number: int) -> int:
        """Listen afresh: `number`, passed on (`case(reads.during(7))`)."""
        self.tables.clear()
        return number


async def test_a_new_dispute_is_read_without_notes_or_outcome_then_with_them(
    db: Database,
) -> None:
    orders = order_source_from_spec(f"fixtures:{default_fixtures_path()}")
    intake = IntakeService(db, orders, default_evidence_sources())
    opened = await intake.open(OpenRequest("ORD-1001", None, "box crushed", MANAGER))
    number = opened.case.dispute.number
    disputes = DisputeService(db)
    reads = Reads(db)

    case = await disputes.case(number)
    assert case.dispute.status == Status.NEW and case.dispute.thread_ts is None
    assert "thread_notes" not in reads.tables and "proposals" not in reads.tables
    assert (case.notes, case.outcome) == ([], None)

    await disputes.link_thread(number, "C0DISPUTES", "1700000000.000100")
    notes = NoteService(db)
    when = datetime.now(UTC)
    await notes.file(number, "C0DISPUTES", "1700000000.000200", "U1", "called", when)
    ready = await disputes.mark_evidence_ready(number)
    assert ready.dispute.status == Status.EVIDENCE_READY

    case = await disputes.case(reads.during(number))
    assert {"thread_notes", "proposals"} <= set(reads.tables)
    assert [note.text for note in case.notes] == ["called"]
