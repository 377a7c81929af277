"""`dispute-desk`: serve, demo, migrate, audit verify, policy and sla tools, insights and
exports."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from bot.errors import StartupError
from bot.settings import SettingsError, environment_secrets, redact

EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE
# What `export --format` takes: the values of `bot.exports.Format` (not imported: Parquet's
# library is slow to load, and only an export needs it).
EXPORT_FORMATS = ("csv", "jsonl", "parquet")
PERIOD_HELP = "7d, 30d, 90d or YYYY-MM-DD..YYYY-MM-DD (UTC days, both included)"

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]


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
    try:
        return asyncio.run(_command(args.run)(args))
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
    """Every command and its arguments; a command's code is imported only when it runs."""
    parser = argparse.ArgumentParser(
        prog="dispute-desk", description="Return disputes, resolved in Slack threads."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    _add_app_commands(sub)
    _add_policy_commands(sub)
    _add_report_commands(sub)
    return parser


def _add_app_commands(sub: Commands) -> None:
    serve = sub.add_parser("serve", help="run the Slack app (HTTP mode, or Socket Mode)")
    serve.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not migrate at start, only check the schema is current "
        "(for deployments that run `dispute-desk migrate` as their own step)",
    )
    serve.set_defaults(run="bot.admin_cli:serve")

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
    demo.set_defaults(run="bot.admin_cli:demo")

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(run="bot.admin_cli:migrate")

    audit = sub.add_parser("audit", help="audit trail tools")
    audit_sub = audit.add_subparsers(required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", help="verify the audit hash chains")
    verify.add_argument("dispute", nargs="?", help="a dispute like D-7 (default: all)")
    verify.set_defaults(run="bot.admin_cli:audit_verify")


def _add_policy_commands(sub: Commands) -> None:
    policy = sub.add_parser("policy", help="policy pack tools for policy authors")
    actions = policy.add_subparsers(required=True, metavar="ACTION")

    lint = actions.add_parser("lint", help="report every problem in a pack")
    lint.add_argument("pack", type=Path)
    lint.set_defaults(run="bot.policy_cli:lint")

    explain = actions.add_parser("explain", help="the decision for an order")
    explain.add_argument("order_id")
    explain.add_argument("--reason", help="a reason word, e.g. damaged (default: the order's)")
    explain.add_argument("--trace", action="store_true", help="show every condition checked")
    explain.set_defaults(run="bot.policy_cli:explain")

    test = actions.add_parser("test", help="run regression cases against a pack")
    test.add_argument("pack", type=Path)
    test.add_argument("cases", type=Path)
    test.set_defaults(run="bot.policy_cli:check_cases")

    sla = sub.add_parser("sla", help="SLA file tools")
    sla_actions = sla.add_subparsers(required=True, metavar="ACTION")
    sla_lint = sla_actions.add_parser("lint", help="report every problem in an SLA file")
    sla_lint.add_argument("file", type=Path, nargs="?", help="default: SLA_FILE")
    sla_lint.set_defaults(run="bot.policy_cli:sla_lint")


def _add_report_commands(sub: Commands) -> None:
    insights = sub.add_parser("insights", help="the KPIs and analyses of a period")
    insights.add_argument("--period", default="30d", help=f"{PERIOD_HELP}; default 30d")
    insights.add_argument("--json", action="store_true", help="the report as JSON")
    insights.set_defaults(run="bot.report_cli:insights")

    export = sub.add_parser(
        "export", help="disputes, the audit trail or insights as CSV, JSON lines or Parquet"
    )
    export.add_argument("what", choices=("disputes", "audit", "insights"))
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    export.add_argument(
        "-o", "--output", type=Path, help="the file to write (default: stdout; Parquet needs one)"
    )
    export.add_argument(
        "--period",
        help=f"{PERIOD_HELP}: disputes opened, audit entries written, or the insights report "
        "in it (default: everything; 30d for insights)",
    )
    export.add_argument(
        "--with-customer",
        action="store_true",
        help="disputes only: add the customer's id, name, email and claim (personal data)",
    )
    export.set_defaults(run="bot.report_cli:export")


def _command(target: str) -> Command:
    """The command named `module:function`, imported now that it runs."""
    module, name = target.split(":")
    command: Command = getattr(importlib.import_module(module), name)
    return command


if __name__ == "__main__":
    sys.exit(main())
