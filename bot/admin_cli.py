"""`dispute-desk serve`, `demo`, `migrate` and `audit verify`: running the app and looking after
its database. Their arguments are in `bot.cli`."""

from __future__ import annotations

import argparse

from bot.errors import StartupError
from bot.settings import load_settings
from storage.db import Database
from storage.migrate import current_revision
from storage.migrate import migrate as migrate_database


async def serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.require_serving()
    from bot.serve import serve as serve_app  # the whole app: only once the settings are good

    await serve_app(settings, migrate=not args.no_migrate)
    return 0


async def demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo  # the whole app and the Slack sandbox

    return await run_demo(port=args.port, data=args.data, wait=not args.no_wait, keep=args.keep)


async def migrate(_args: argparse.Namespace) -> int:
    settings = load_settings()
    db = Database(settings.database_url)
    try:
        revision = await migrate_database(db)
    finally:
        await db.dispose()
    print(f"database at revision {revision}")
    return 0


async def audit_verify(args: argparse.Namespace) -> int:
    from disputes.case_files import DisputeService  # the disputes' code: only for this command
    from disputes.errors import DisputeNotFound
    from handlers.parsing import DISPUTE_REF

    number = None
    if args.dispute:
        match = DISPUTE_REF.fullmatch(args.dispute.strip())
        if match is None:
            raise StartupError(f"{args.dispute!r} is not a dispute number like D-7")
        number = int(match.group(1))
    db = Database(load_settings().database_url)
    try:
        if await current_revision(db) is None:
            raise StartupError(
                "the database at DATABASE_URL has no Dispute Desk tables yet: "
                "run `dispute-desk migrate`"
            )
        problems = await DisputeService(db).verify_audit(number)
    except DisputeNotFound as exc:
        raise StartupError(str(exc)) from None
    finally:
        await db.dispose()
    scope = f"D-{number}" if number else "all disputes"
    if not problems:
        print(f"audit chain intact for {scope}")
        return 0
    print(f"audit chain BROKEN for {scope}:")
    for problem in problems:
        print(f"  {problem}")
    return 1
