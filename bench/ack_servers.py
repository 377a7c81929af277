"""The helper processes of the ack benchmark (bench/ack.py), each started as
`python -m bench.ack_servers …` and stopped when the benchmark closes its stdin:

    emulator OUT COUNT   the sandbox emulator; writes its URL and COUNT (user, response_url
                         token, trigger_id) grants to OUT once it is serving
    bare                 a Bolt app that only acks, served as the app is (settings from the
                         environment)
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from itertools import cycle
from pathlib import Path
from typing import Any, cast

import uvicorn
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.common import CHANNEL, START_TIMEOUT, wait_until
from bot.http import create_http_app
from bot.serve import asgi_server
from bot.settings import Settings, load_settings
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace

USERS = ("U0AGENT", "U0MANAGER1", "U0MANAGER2", "U0SUPER")


def run_emulator(out: Path, count: int) -> None:
    """Serve the emulator; hand the generator `count` response_url tokens and trigger ids."""
    workspace = Workspace.default()
    server = EmulatorServer(workspace).start_in_thread()
    users = cycle(USERS)
    grants = []
    for _ in range(count):
        user = next(users)
        grants.append(
            (user, workspace.mint_response_url(CHANNEL, user), workspace.mint_trigger(user))
        )
    staged = out.with_suffix(".tmp")
    staged.write_text(json.dumps({"url": server.base_url, "grants": grants}))
    staged.replace(out)
    sys.stdin.read()  # the generator closes our stdin (or exits): time to stop
    server.stop_thread()


def read_grants(out: Path) -> dict[str, Any] | None:
    return cast(dict[str, Any], json.loads(out.read_text())) if out.exists() else None


async def start_emulator(out: Path, process: subprocess.Popen) -> dict[str, Any]:
    """Wait for the emulator's URL and grants (it writes them once it is serving)."""
    await wait_until(lambda: out.exists() or process.poll() is not None, START_TIMEOUT)
    grants = read_grants(out)
    if grants is None:
        raise RuntimeError(f"the emulator did not start (exit code {process.poll()})")
    return grants


# -- helper process: the bare Bolt app ----------------------------------------------------


def bare_app(settings: Settings) -> AsyncApp:
    """Configured as bot.app.build_bolt_app is, without middleware and with a listener that
    only acks."""
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret,
        request_verification_enabled=True,
        process_before_response=False,
    )

    @app.command("/dispute")
    async def handle(ack: Any) -> None:
        await ack()

    return app


async def serve_bare() -> None:
    settings = load_settings()
    # The bare app is served by exactly the app's Starlette handler and uvicorn configuration.
    server = asgi_server(create_http_app(bare_app(settings), None), settings.host, settings.port)
    threading.Thread(target=_exit_on_eof, args=(server,), daemon=True).start()
    await server.serve()


def _exit_on_eof(server: uvicorn.Server) -> None:
    sys.stdin.read()
    server.should_exit = True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["emulator"]:
        run_emulator(Path(args[1]), int(args[2]))
    elif args[:1] == ["bare"]:
        asyncio.run(serve_bare())
    else:
        print("usage: python -m bench.ack_servers emulator OUT COUNT | bare", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
