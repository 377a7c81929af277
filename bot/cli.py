"""`dispute-desk`: serve, demo, migrate, audit verify, policy and sla tools, insights and
exports."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.exc import DBAPIError

from bot.errors import StartupError
from bot.policy_cli import add_policy_commands
from bot.report_cli import add_report_commands
from bot.settings import SettingsError, environment_secrets, load_settings, redact

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        for noisy in ("slack_bolt", "slack_sdk", "httpx", "aiosqlite", "alembic", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    command: Callable[[argparse.Namespace], Coroutine[Any, Any, int]] = args.run
    try:
        return asyncio.run(command(args))
    except KeyboardInterrupt:
        return 130
    except (SettingsError, StartupError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    except (OSError, DBAPIError) as exc:
        reason = getattr(exc, "orig", None) or exc
        _error(f"cannot reach a service it needs: {reason}")
        return EXIT_UNAVAILABLE


def _error(message: str) -> None:
    """One error on stderr, never with a secret or a password from a URL in it."""
    print(f"dispute-desk: {redact(message, environment_secrets())}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dispute-desk", description="Return disputes, resolved in Slack threads."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the Slack app (HTTP mode, or Socket Mode)")
    serve.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not migrate at start, only check the schema is current "
        "(for deployments that run `dispute-desk migrate` as their own step)",
    )
    serve.set_defaults(run=_serve)

    demo = sub.add_parser("demo", help="run the app against the local Slack sandbox")
    demo.add_argument("--port", type=int, default=0, help="sandbox page port (default: any)")
    demo.add_argument(
        "--data",
        help="folder for the demo's database, orders and roles "
        "(default: ~/.cache/dispute-desk/demo; wiped at start unless --keep)",
    )
    demo.add_argument(
        "--keep", action="store_true", help="keep the previous run's database and paid orders"
    )
    demo.add_argument("--no-wait", action="store_true", help="exit after the transcript")
    demo.set_defaults(run=_demo)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(run=_migrate)

    add_policy_commands(sub)
    add_report_commands(sub)

    audit = sub.add_parser("audit", help="audit trail tools")
    audit_sub = audit.add_subparsers(required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", help="verify the audit hash chains")
    verify.add_argument("dispute", nargs="?", help="a dispute like D-7 (default: all)")
    verify.set_defaults(run=_audit_verify)
    return parser


async def _serve(args: argparse.Namespace) -> int:
    from bot.serve import serve

    await serve(load_settings(), migrate=not args.no_migrate)
    return 0


async def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return await run_demo(port=args.port, data=args.data, wait=not args.no_wait, keep=args.keep)


async def _migrate(_args: argparse.Namespace) -> int:
    from storage.db import Database
    from storage.migrate import migrate

    settings = load_settings()
    db = Database(settings.database_url)
    try:
        revision = await migrate(db)
    finally:
        await db.dispose()
    print(f"database at revision {revision}")
    return 0


async def _audit_verify(args: argparse.Namespace) -> int:
    from disputes.case_files import DisputeService
    from disputes.errors import DisputeNotFound
    from handlers.parsing import DISPUTE_REF
    from storage.db import Database
    from storage.migrate import current_revision

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


if __name__ == "__main__":
    sys.exit(main())
