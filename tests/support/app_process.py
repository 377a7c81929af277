"""The app as a real process in HTTP mode, pointed at the sandbox emulator (sandbox/app_process.py),
with the sandbox's people given their demo roles, and a check after every run that no secret
reached the app's output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from bot.demo_world import ROLES as DEMO_ROLES
from sandbox import app_process as serve
from sandbox.app_process import AppProcess
from tests.support.localstripe import API_KEY

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_ROLES = DEMO_ROLES

__all__ = [
    "MONEY_ROLES",
    "ROOT",
    "SANDBOX_ROLES",
    "AppProcess",
    "app_process",
    "leaked_secrets",
    "money_app_process",
]
# Managers by user group, so that a group lookup decides who may approve.
MONEY_ROLES = """
roles:
  supervisor: {users: [U0SUPER], groups: [], approval_limit: null}
  manager: {users: [], groups: [S0MANAGERS], approval_limit: "200.00"}
  agent: {users: [U0AGENT], groups: [], approval_limit: "0"}
two_person_rule_above: "100.00"
"""


@contextmanager
def app_process(
    tmp: Path, api_url: str, *, channel: str = "#disputes", **env: str
) -> Iterator[AppProcess]:
    """Start `dispute-desk serve`; yield once /healthz answers; stop it with SIGTERM. Without a
    ROLES_FILE the sandbox's people get the roles the demo gives them; without
    INSIGHTS_REPORT_AT no weekly report is made (a test of it names the moment)."""
    roles = None if "ROLES_FILE" in env else SANDBOX_ROLES
    env.setdefault("INSIGHTS_REPORT_AT", "off")
    with serve.app_process(tmp, api_url, channel=channel, roles=roles, **env) as app:
        yield app
    # Every run, whatever it tested, checks that no secret it was given reached its output.
    leaked = leaked_secrets(app.output(), app.environment)
    assert not leaked, f"the app's output holds the value of {', '.join(leaked)}"


@contextmanager
def money_app_process(
    tmp: Path, api_url: str, *, stripe: str, paid_orders: Path, **env: str
) -> Iterator[AppProcess]:
    """The app refunding through `stripe` (localstripe) for the paid demo orders, with the
    roles of MONEY_ROLES and the supervisors' channel."""
    roles = tmp / "roles.yml"
    roles.write_text(MONEY_ROLES)
    with app_process(
        tmp,
        api_url,
        ORDER_SOURCE=f"fixtures:{paid_orders}",
        ROLES_FILE=str(roles),
        REFUND_GATEWAY="stripe",
        STRIPE_API_KEY=API_KEY,
        STRIPE_API_BASE=stripe,
        SUPERVISORS_CHANNEL="#dispute-supervisors",
        **env,
    ) as app:
        yield app


SECRET_NAMES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "INBOUND_SECRET",
    "OUTBOUND_SECRET",
    "STRIPE_API_KEY",
    "METRICS_TOKEN",
)


def leaked_secrets(output: str, environment: dict[str, str]) -> list[str]:
    """Names of the secrets (and passwords inside URLs) whose values appear in `output`."""
    found = [name for name in SECRET_NAMES if environment.get(name) and environment[name] in output]
    for name, value in environment.items():
        password = urlsplit(value).password if "://" in value else None
        if password and password in output:
            found.append(f"the password in {name}")
    return found
