"""Running the app: HTTP mode under uvicorn, or Socket Mode when an app token is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Generator

import aiohttp
import uvicorn
from slack_sdk.errors import SlackApiError
from starlette.routing import Route
from starlette.types import ASGIApp

from bot.channels import ChannelError
from bot.customer_pages import customer_page_routes
from bot.errors import StartupError
from bot.http import create_http_app
from bot.inbound import inbound_endpoint
from bot.logs import use_log_format
from bot.metrics import Backlogs, metrics_route
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.socket_mode import GatedSocketModeHandler
from handlers.errors import slack_error

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)
CONNECT_TIMEOUT = 30.0  # seconds for the first Socket Mode connection


async def start_runtime(settings: Settings, *, migrate: bool = True) -> Runtime:
    """Build the runtime, turning start-up problems into one-line errors."""
    try:
        return await build_runtime(settings, migrate=migrate)
    except ChannelError as exc:
        raise StartupError(settings.redact(str(exc))) from None
    except ValueError as exc:
        raise StartupError(settings.redact(str(exc))) from None
    except StartupError as exc:
        raise StartupError(settings.redact(str(exc))) from None


def http_server(runtime: Runtime, host: str, port: int, *, slack_events: bool = True) -> Server:
    """Health checks, customer replies, the customer's pages, the metrics (with METRICS_TOKEN)
    and (in HTTP mode) Slack's requests."""
    inbound = inbound_endpoint(runtime.db, runtime.deps, runtime.settings.inbound_secret)
    routes = [Route("/api/customer-replies", inbound, methods=["POST"])]
    if runtime.answers is not None:
        routes += customer_page_routes(runtime.answers)
    if runtime.settings.metrics_token:
        backlogs = Backlogs(runtime.db, runtime.queue)
        routes.append(metrics_route(runtime.settings.metrics_token, backlogs))
    http_app = create_http_app(
        runtime.app,
        runtime.db,
        runtime.queue.gate,
        routes,
        slack_events=slack_events,
        signing_secret=runtime.settings.slack_signing_secret,
    )
    return asgi_server(http_app, host, port)


class Server(uvicorn.Server):
    """uvicorn without its own signal handling: whoever runs the server decides when it stops
    (`serve` on SIGINT/SIGTERM, the demo on Ctrl-C), and clean-up after it always runs."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve_until_signal(server: uvicorn.Server) -> None:
    """Serve until SIGINT or SIGTERM, then finish the requests in flight. A signal during the
    clean-up after it takes its default course (a second Ctrl-C ends the process at once)."""
    loop = asyncio.get_running_loop()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    try:
        await server.serve()
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)


def asgi_server(asgi_app: ASGIApp, host: str, port: int) -> Server:
    config = uvicorn.Config(
        asgi_app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
        # uvicorn's own lines go through the app's handlers, in the app's LOG_FORMAT.
        log_config=None,
    )
    return Server(config)


async def serve(settings: Settings, *, migrate: bool = True) -> None:
    """Run until SIGINT or SIGTERM; `migrate` off (`serve --no-migrate`) only checks that the
    schema is current, for deployments that run `dispute-desk migrate` as their own step."""
    use_log_format(settings.log_format, settings.secrets())
    runtime = await start_runtime(settings, migrate=migrate)
    try:
        if settings.slack_app_token:
            await serve_socket_mode(runtime, settings.slack_app_token)
        else:
            log.info(
                "HTTP mode: Slack requests at http://%s:%d/slack/events",
                settings.host,
                settings.port,
            )
            await serve_until_signal(http_server(runtime, settings.host, settings.port))
    finally:
        await runtime.aclose()


async def serve_socket_mode(runtime: Runtime, app_token: str) -> None:
    """Slack's requests over Socket Mode; health checks and customer replies still over HTTP,
    whose server also ends the process on SIGTERM or Ctrl-C."""
    settings = runtime.settings
    # Ask for the first connection ourselves: a refused token stops start-up with one line
    # instead of the client's endless retries.
    url = await socket_mode_url(runtime, app_token)
    handler = GatedSocketModeHandler(runtime.app, app_token, gate=runtime.queue.gate)
    try:
        handler.client.wss_uri = url
        try:
            await asyncio.wait_for(handler.connect_async(), CONNECT_TIMEOUT)
        except TimeoutError:
            raise StartupError(
                f"Socket Mode: no WebSocket connection to Slack within {CONNECT_TIMEOUT:.0f} s; "
                "check that this host may open wss:// connections to Slack"
            ) from None
        log.info(
            "Socket Mode: connected to Slack; health checks at http://%s:%d/healthz",
            settings.host,
            settings.port,
        )
        await serve_until_signal(
            http_server(runtime, settings.host, settings.port, slack_events=False)
        )
    finally:
        await handler.close_async()


async def socket_mode_url(runtime: Runtime, app_token: str) -> str:
    """apps.connections.open, its failures as start-up errors."""
    try:
        response = await runtime.app.client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise StartupError(
            f"Slack refused SLACK_APP_TOKEN ({slack_error(exc)}): use the app-level token "
            "(xapp-…) with the connections:write scope, from the app's Basic Information page"
        ) from None
    except (OSError, aiohttp.ClientError) as exc:
        raise StartupError(f"Socket Mode: Slack could not be reached ({exc})") from None
    return str(response["url"])
