"""The app as a real process, as the tests and the benchmarks start it: `dispute-desk serve`
(`python -m bot.cli serve`) in HTTP mode on a free loopback port, pointed at a Slack Web API
(the sandbox emulator), SQLite in a given folder. The sandbox reaches it over HTTP only; the
same small process helpers start the benchmarks' other servers."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

# The project folder: where `python -m bench…` finds modules that are not installed.
ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment minus any real Slack or database settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    return {**env, **extra}


def spawn(
    module_args: list[str], *, env: dict[str, str], cwd: Path, log: Path, stdin: int | None = None
) -> subprocess.Popen[bytes]:
    """`python -m …` with its output (stdout and stderr) in `log`."""
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", *module_args],
            cwd=cwd,
            env=env,
            stdin=stdin,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Close its stdin (helpers stop at end of input), SIGTERM it, and kill it after 15 s."""
    stdin: IO[bytes] | None = process.stdin
    if stdin is not None:
        stdin.close()
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@contextmanager
def running(
    module_args: list[str], *, env: dict[str, str], cwd: Path, log: Path, stdin: int | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`spawn`, then `stop` on the way out."""
    process = spawn(module_args, env=env, cwd=cwd, log=log, stdin=stdin)
    try:
        yield process
    finally:
        stop(process)


def wait_serving(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    *,
    name: str | None = None,
    healthy: bool = True,
    timeout: float = START_TIMEOUT,
) -> None:
    """Until `url`/healthz answers 200 (or, not `healthy`, answers HTTP at all); the server's
    output is in the error when it exits or never answers."""
    name = name or url
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at start-up:\n{_read(log)}")
        try:
            status = httpx.get(url + "/healthz", timeout=1).status_code
            if status == 200 or not healthy:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not become healthy:\n{_read(log)}")


def _read(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


@dataclass
class AppProcess:
    """A running `dispute-desk serve` and what it was given."""

    url: str
    port: int
    secret: str
    database: Path
    process: subprocess.Popen[bytes]
    log: Path
    environment: dict[str, str]

    def output(self) -> str:
        return _read(self.log)


@contextmanager
def app_process(
    tmp: Path,
    api_url: str,
    *,
    channel: str = "#disputes",
    roles: str | None = None,
    **env: str,
) -> Iterator[AppProcess]:
    """Start `dispute-desk serve` in `tmp` (its database and app.log there; `roles`, when
    given, as its roles file); yield once /healthz answers; stop it with SIGTERM."""
    tmp.mkdir(parents=True, exist_ok=True)
    if roles is not None and "ROLES_FILE" not in env:
        roles_file = tmp / "roles.yml"
        roles_file.write_text(roles)
        env["ROLES_FILE"] = str(roles_file)
    port = free_port()
    secret = env.pop("SLACK_SIGNING_SECRET", None) or secrets.token_hex(16)
    database = tmp / "app.db"
    log = tmp / "app.log"
    settings = {
        "SLACK_BOT_TOKEN": "xoxb-sandbox",
        "SLACK_SIGNING_SECRET": secret,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "DISPUTES_CHANNEL": channel,
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    environment = clean_environment(**{**settings, **env})
    url = f"http://127.0.0.1:{port}"
    with running(["bot.cli", "serve"], env=environment, cwd=tmp, log=log) as process:
        app = AppProcess(url, port, secret, database, process, log, environment)
        wait_serving(url, process, log, name="the app")
        yield app
