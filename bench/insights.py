"""Insights (`disputes.insights.InsightsService`) on a full database.

    python -m bench.insights                       # SQLite, 100,000 disputes (several minutes)
    python -m bench.insights --backend postgres    # a throwaway cluster, 1,000,000 disputes
    python -m bench.insights --database-url URL [--disputes N] [--open-share 0.1] [--workers 2]
    python -m bench.insights --database-url URL --skip-fill     # a database filled before
(prints numbers, never asserts on them; exits 0 when it ran)

Fills a database with `bench.dataset` (or, with `--skip-fill`, reads one filled before: its
moment is its latest write), then times, at the dataset's moment, for 7d, 30d and 90d: the
whole `report` (its sections run concurrently, each on its own session, as the command and the
weekly report call it), and each section alone, as the service runs it (`count_opened`,
`resolved_summary`, `stage_breaches`, `refunds_paid`, `reason_counts`,
`tag_counts`, `offers_decided`, `workload_of`), and the weekly report's 8-week `trend`.
Each time is the best of `--repeat` runs, and is printed with its ratio to the baseline
measured in the same run before them: `SELECT count(*) FROM disputes` (on PostgreSQL a scan of
the table or of an index; on SQLite a count over the smallest index). Every distinct statement
each section ran (for 90d) is then explained with the parameters it ran with: `EXPLAIN
(ANALYZE, BUFFERS)` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite, with how each table was read
(an index, or scanned whole, and the table's row count).
Target: a report under 2 s on PostgreSQL with 1,000,000 disputes.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import best_of, ms, verdict
from bench.databases import add_dataset_arguments, dataset_database
from bench.dataset import DEFAULT_SLA
from bench.plans import Capture, Statement, print_plans
from disputes import insight_groups, insight_offers, insight_resolved, insights
from disputes.insight_report import Insights, Period
from policies.sla import SlaPolicy
from storage.db import Database
from storage.tables import DisputeRow

TARGET_SECONDS = 2.0
PERIODS = ("7d", "30d", "90d")
EXPLAINED = "90d"

Section = Callable[[AsyncSession, Period, SlaPolicy], Awaitable[Any]]
SECTIONS: tuple[tuple[str, Section], ...] = (
    ("count_opened", lambda s, p, _: insights.count_opened(s, p)),
    ("resolved_summary", insight_resolved.resolved_summary),
    ("stage_breaches", lambda s, p, _: insights.stage_breaches(s, p)),
    ("refunds_paid", lambda s, p, _: insights.refunds_paid(s, p)),
    ("reason_counts", lambda s, p, _: insights.reason_counts(s, p)),
    ("tag_counts", lambda s, p, _: insight_groups.tag_counts(s, p)),
    ("offers_decided", lambda s, p, _: insight_offers.offers_decided(s, p)),
    ("workload_of", insights.workload_of),
)


@dataclass
class Timed:
    label: str
    seconds: float
    note: str = ""


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.insights", description=__doc__)
    add_dataset_arguments(parser)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timing (the best)")
    args = parser.parse_args(argv)
    async with dataset_database(args, "Insights", "insights") as (db, now, backend):
        await run(db, now, backend=backend, repeat=args.repeat)


async def run(db: Database, now: datetime, *, backend: str, repeat: int) -> None:
    sla = SlaPolicy.load(DEFAULT_SLA)
    service = insights.InsightsService(db, sla)
    async with db.reading() as session:
        total = int(await session.scalar(select(func.count()).select_from(DisputeRow)) or 0)
    baseline = await best_of(repeat, partial(_count, db))
    print(f"\n{total:,} disputes; baseline (same run, best of {repeat}):")
    print(f"  SELECT count(*) FROM disputes   {ms(baseline)}")

    capture = Capture()
    capture.listen(db)
    explained: dict[str, list[Statement]] = {}
    reports: dict[str, float] = {}
    for label in PERIODS:
        period = Period.parse(label, now)
        report = await service.report(period)  # warm: the first run reads from disk
        reports[label] = await best_of(repeat, partial(service.report, period))
        print(f"\n{label} ({period.start:%Y-%m-%d %H:%M} .. {period.end:%Y-%m-%d %H:%M} UTC)")
        _line("report (sections concurrently)", reports[label], baseline, _summary(report))
        for name, section in SECTIONS:
            capture.on = label == EXPLAINED
            capture.take()
            seconds = await best_of(repeat, partial(_section, db, section, period, sla))
            capture.on = False
            if label == EXPLAINED:
                explained[name] = capture.take()
            _line(f"  {name}", seconds, baseline)
    trend = await best_of(repeat, partial(service.trend, now))
    print()
    _line("trend: 8 weeks (the weekly report's chart)", trend, baseline)

    worst = max(reports.values())
    where = f"{backend}, {total:,} disputes"
    print(
        f"\ntarget: a report under {TARGET_SECONDS:.0f} s ({where}): "
        + ", ".join(f"{label} {verdict(reports[label] < TARGET_SECONDS)}" for label in PERIODS)
        + f"; slowest {ms(worst).strip()}"
        + ("" if backend == "postgres" and total >= 1_000_000 else " (target is for PG, 1M)")
    )
    analyze = not db.is_sqlite
    how = "EXPLAIN (ANALYZE, BUFFERS)" if analyze else "EXPLAIN QUERY PLAN"
    print(f"\nstatements of each section for {EXPLAINED}, with their plans ({how})")
    for name, statements in explained.items():
        print(f"\n== {name}: {len(statements)} statement(s)")
        await print_plans(
            db, statements, analyze=analyze, indent="  ", settings=insights.POSTGRES_SETTINGS
        )


async def _section(db: Database, section: Section, period: Period, sla: SlaPolicy) -> Any:
    async with insights.report_session(db) as session:
        return await section(session, period, sla)


async def _count(db: Database) -> int:
    async with db.reading() as session:
        return int((await session.execute(text("SELECT count(*) FROM disputes"))).scalar_one())


def _line(label: str, seconds: float, baseline: float, note: str = "") -> None:
    ratio = seconds / baseline if baseline else float("inf")
    print(f"  {label:<44} {ms(seconds)}  {ratio:7.1f}x baseline  {note}".rstrip())


def _summary(report: Insights) -> str:
    """A few of the report's numbers, to show it read something."""
    csat = report.csat.score
    fcr = report.first_contact_resolution_rate
    flagged = sum(g.flagged for groups in report.recurring.values() for g in groups)
    return (
        f"opened {report.disputes.opened:,}, resolved {report.disputes.resolved:,}, "
        f"median {report.time_to_resolve_hours.median or 0:.1f} h, "
        f"FCR {fcr or 0:.2f}, CSAT {csat or 0:.2f}, {flagged} flagged"
    )


if __name__ == "__main__":
    asyncio.run(main())
