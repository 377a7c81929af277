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

import httpx

from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]


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
