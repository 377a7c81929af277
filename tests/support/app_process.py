"""The app as a real process in HTTP mode, pointed at the sandbox emulator."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bot.demo_world import ROLES as DEMO_ROLES
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_ROLES = DEMO_ROLES


@dataclass
class AppProcess:
    url: str
    secret: str
    database: Path
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def app_process(
    tmp: Path, api_url: str, *, channel: str = "#disputes", **env: str
) -> Iterator[AppProcess]:
    """Start `dispute-desk serve`; yield once /healthz answers; stop it with SIGTERM."""
    tmp.mkdir(parents=True, exist_ok=True)
    if "ROLES_FILE" not in env:  # the sandbox's people, as the demo gives them roles
        roles = tmp / "roles.yml"
        roles.write_text(SANDBOX_ROLES)
        env["ROLES_FILE"] = str(roles)
    port = free_port()
    secret = env.pop("SLACK_SIGNING_SECRET", None) or secrets.token_hex(16)
    database = tmp / "app.db"
    log = tmp / "app.log"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))},
        "SLACK_BOT_TOKEN": "xoxb-sandbox",
        "SLACK_SIGNING_SECRET": secret,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "DISPUTES_CHANNEL": channel,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **env,
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"],
            cwd=tmp,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    app = AppProcess(f"http://127.0.0.1:{port}", secret, database, process, log)
    try:
        _wait_healthy(app)
        yield app
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    # Every run, whatever it tested, checks that no secret it was given reached its output.
    leaked = leaked_secrets(app.output(), environment)
    assert not leaked, f"the app's output holds the value of {', '.join(leaked)}"


SECRET_NAMES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "INBOUND_SECRET",
    "OUTBOUND_SECRET",
    "STRIPE_API_KEY",
)


def leaked_secrets(output: str, environment: dict[str, str]) -> list[str]:
    """Names of the secrets (and passwords inside URLs) whose values appear in `output`."""
    found = [name for name in SECRET_NAMES if environment.get(name) and environment[name] in output]
    for name, value in environment.items():
        password = urlsplit(value).password if "://" in value else None
        if password and password in output:
            found.append(f"the password in {name}")
    return found


def _wait_healthy(app: AppProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise RuntimeError(f"the app exited at start-up:\n{app.output()}")
        try:
            if httpx.get(app.url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the app did not become healthy:\n{app.output()}")
