"""The metrics that read the database: the backlog of refund requests, customer messages and
digest posts, on SQLite and PostgreSQL; and the refund worker's outcomes, counted by the
observer `bot` hands it."""

from __future__ import annotations

from bot.metrics import REGISTRY, Backlogs, counting_refund_outcomes
from disputes.backlogs import read_backlog
from disputes.refund_records import RefundOutcome
from disputes.refund_worker import RefundWorker
from storage.db import Database
from tests.integration.test_refund_outbox import approved_dispute, fake


def waiting(backlogs: Backlogs, name: str) -> dict[str, float]:
    (family,) = [m for m in backlogs.collect() if m.name == name]
    return {s.labels.get("status", ""): s.value for s in family.samples}


def succeeded() -> float:
    sample = REGISTRY.get_sample_value(
        "dispute_desk_refund_outcomes_total", {"outcome": "succeeded"}
    )
    return sample or 0.0


async def test_the_backlog_counts_what_waits_to_go_out(db: Database) -> None:
    empty = await read_backlog(db)
    assert empty.refund_requests == {"pending": 0, "in_flight": 0, "unknown": 0}
    assert empty.customer_messages == {"pending": 0, "sending": 0}
    assert empty.alert_posts == 0

    await approved_dispute(db)
    now = [0.0]
    backlogs = Backlogs(db, clock=lambda: now[0])
    await backlogs.refresh()
    assert waiting(backlogs, "dispute_desk_refund_requests_waiting")["pending"] == 1

    seen: list[RefundOutcome] = []

    async def thread(outcome: RefundOutcome) -> None:
        seen.append(outcome)

    before = succeeded()
    worker = RefundWorker(db, fake(), notify=counting_refund_outcomes(thread))
    assert await worker.run_once()
    after = REGISTRY.get_sample_value(
        "dispute_desk_refund_outcomes_total", {"outcome": "succeeded"}
    )
    assert (after or 0) == (before or 0) + 1
    assert [o.status for o in seen] == ["succeeded"]  # the thread still hears of it

    await backlogs.refresh()  # within the cache's few seconds: the same counts
    assert waiting(backlogs, "dispute_desk_refund_requests_waiting")["pending"] == 1
    now[0] += backlogs.ttl
    await backlogs.refresh()
    assert waiting(backlogs, "dispute_desk_refund_requests_waiting") == {
        "pending": 0,
        "in_flight": 0,
        "unknown": 0,
    }
