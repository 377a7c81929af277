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
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import ms, verdict
from bench.databases import bench_database, moment
from bench.dataset import DEFAULT_SLA, DatasetSpec, fill
from bench.plans import Capture, Statement, print_plans
from disputes import insight_groups, insight_offers, insight_resolved, insights
from disputes.insight_report import Insights, Period
from policies.sla import SlaPolicy
from storage.db import Database
from storage.migrate import migrate
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
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", help="a database to fill (empty), or filled before")
    parser.add_argument("--disputes", type=int, help="default 100,000 (SQLite), 1,000,000")
    parser.add_argument("--skip-fill", action="store_true", help="use the disputes already there")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--open-share", type=float, default=0.10, help="open disputes (all recent) of the fill"
    )
    parser.add_argument("--workers", type=int, default=1, help="processes making the dataset")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timing (the best)")
    args = parser.parse_args(argv)
    backend = args.backend
    if args.database_url:
        backend = "sqlite" if args.database_url.startswith("sqlite") else "postgres"
    if args.skip_fill and not args.database_url:
        sys.exit("--skip-fill needs --database-url (a database filled before)")
    disputes = args.disputes or (100_000 if backend == "sqlite" else 1_000_000)
    async with bench_database(backend, args.database_url, "insights") as db:
        await migrate(db)
        if args.skip_fill:
            now = await moment(db)
            print(f"Insights on {backend}: the disputes already there, as of {now.isoformat()}")
        else:
            print(f"Insights on {backend}: filling {disputes:,} disputes (seed {args.seed})")
            spec = DatasetSpec(disputes, open_share=args.open_share, seed=args.seed)
            filled = await fill(db, spec, _progress, workers=args.workers)
            now = filled.now
            print(
                f"  filled {filled.total_rows:,} rows in {filled.seconds:.0f} s "
                f"({filled.rows_per_second:,.0f} rows/s)"
            )
        await run(db, now, backend=backend, repeat=args.repeat)


async def run(db: Database, now: datetime, *, backend: str, repeat: int) -> None:
    sla = SlaPolicy.load(DEFAULT_SLA)
    service = insights.InsightsService(db, sla)
    async with db.reading() as session:
        total = int(await session.scalar(select(func.count()).select_from(DisputeRow)) or 0)
    baseline = await _best_of(repeat, partial(_count, db))
    print(f"\n{total:,} disputes; baseline (same run, best of {repeat}):")
    print(f"  SELECT count(*) FROM disputes   {ms(baseline)}")

    capture = Capture()
    capture.listen(db)
    explained: dict[str, list[Statement]] = {}
    reports: dict[str, float] = {}
    for label in PERIODS:
        period = Period.parse(label, now)
        report = await service.report(period)  # warm: the first run reads from disk
        reports[label] = await _best_of(repeat, partial(service.report, period))
        print(f"\n{label} ({period.start:%Y-%m-%d %H:%M} .. {period.end:%Y-%m-%d %H:%M} UTC)")
        _line("report (sections concurrently)", reports[label], baseline, _summary(report))
        for name, section in SECTIONS:
            capture.on = label == EXPLAINED
            capture.take()
            seconds = await _best_of(repeat, partial(_section, db, section, period, sla))
            capture.on = False
            if label == EXPLAINED:
                explained[name] = capture.take()
            _line(f"  {name}", seconds, baseline)
    trend = await _best_of(repeat, partial(service.trend, now))
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


async def _best_of(times: int, measure: Callable[[], Awaitable[Any]]) -> float:
    best = float("inf")
    for _ in range(max(times, 1)):
        started = time.perf_counter()
        await measure()
        best = min(best, time.perf_counter() - started)
    return best


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


def _progress(done: int, total: int) -> None:
    if done == total or done % max(total // 10, 1) < 1_000:
        print(f"  {done:,} / {total:,} disputes", file=sys.stderr, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
