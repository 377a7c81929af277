"""`dispute-desk insights` and `dispute-desk export`: reports for scripts and spreadsheets. They
read `DATABASE_URL` (and `SLA_FILE`, else the shipped default) and need no Slack settings.
Their arguments are in `bot.cli`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

from bot.errors import StartupError
from bot.exports import Format, write_export
from bot.insights_text import summary
from bot.settings import Settings, load_settings
from bot.sla_loading import load_sla
from disputes.exports import INSIGHT_COLUMNS, Exporter, Row, Stream, insight_rows
from disputes.insight_report import Insights, Period
from disputes.insights import InsightsService
from storage.db import Database
from storage.migrate import current_revision, head_revision

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a reader that went away


def parse_period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise StartupError(f"--period: {exc}") from None


async def insights(args: argparse.Namespace) -> int:
    period = parse_period(args.period)
    async with _database() as (db, settings):
        report = await _report(db, settings, period)
    if args.json:
        return _print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    return _print(summary(report))


async def export(args: argparse.Namespace) -> int:
    form = Format(args.format)
    period = parse_period(args.period or "30d") if args.what == "insights" or args.period else None
    if form is Format.PARQUET and args.output is None:
        raise StartupError("Parquet is written to a file: add --output FILE")
    if args.with_customer and args.what != "disputes":
        raise StartupError("--with-customer applies to `export disputes` only")
    async with _database() as (db, settings):
        if args.what == "insights":
            assert period is not None
            rows = insight_rows(await _report(db, settings, period))
            return await _write(Stream(INSIGHT_COLUMNS, len(rows), _once(rows)), args, form)
        source = Exporter(db)
        opened = (
            source.disputes(with_customer=args.with_customer, period=period)
            if args.what == "disputes"
            else source.audit(period=period)
        )
        async with opened as stream:
            return await _write(stream, args, form)


async def _write(stream: Stream, args: argparse.Namespace, form: Format) -> int:
    try:
        await write_export(stream, form, args.output, f"export {args.what}")
    except BrokenPipeError:
        return _reader_gone()
    return 0


async def _once(rows: list[Row]) -> AsyncGenerator[list[Row], None]:
    yield rows


async def _report(db: Database, settings: Settings, period: Period) -> Insights:
    return await InsightsService(db, load_sla(settings.sla_file)).report(period)


@asynccontextmanager
async def _database() -> AsyncIterator[tuple[Database, Settings]]:
    """The database at DATABASE_URL, once its schema is this version's."""
    settings = load_settings()
    db = Database(settings.database_url)
    try:
        revision = await current_revision(db)
        if revision is None:
            raise StartupError(
                "the database at DATABASE_URL has no Dispute Desk tables yet: "
                "run `dispute-desk migrate`"
            )
        if revision != head_revision():
            raise StartupError(
                f"the database at DATABASE_URL is at revision {revision}, this version reads "
                f"{head_revision()}: run `dispute-desk migrate`"
            )
        yield db, settings
    finally:
        await db.dispose()


def _print(text: str) -> int:
    try:
        print(text, flush=True)
    except BrokenPipeError:
        return _reader_gone()
    return 0


def _reader_gone() -> int:
    """The reader of stdout went away (`| head`): stop quietly, and let nothing flush into the
    closed pipe at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE
