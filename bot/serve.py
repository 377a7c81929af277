"""Running the app: HTTP mode under uvicorn, or Socket Mode when an app token is set."""

from __future__ import annotations

import logging

import uvicorn
from starlette.routing import Route
from starlette.types import ASGIApp

from bot.channels import ChannelError
from bot.errors import StartupError
from bot.http import create_http_app
from bot.inbound import inbound_endpoint
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings

log = logging.getLogger(__name__)


async def start_runtime(settings: Settings) -> Runtime:
    """Build the runtime, turning start-up problems into one-line errors."""
    try:
        return await build_runtime(settings)
    except ChannelError as exc:
        raise StartupError(str(exc)) from None
    except ValueError as exc:
        raise StartupError(str(exc)) from None


def http_server(runtime: Runtime, host: str, port: int) -> uvicorn.Server:
    inbound = inbound_endpoint(runtime.db, runtime.deps, runtime.settings.inbound_secret)
    routes = [Route("/api/customer-replies", inbound, methods=["POST"])]
    http_app = create_http_app(runtime.app, runtime.db, runtime.queue.gate, routes)
    return asgi_server(http_app, host, port)


def asgi_server(asgi_app: ASGIApp, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        asgi_app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


async def serve(settings: Settings) -> None:
    runtime = await start_runtime(settings)
    try:
        if settings.slack_app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            log.info("Socket Mode: connecting to Slack")
            await AsyncSocketModeHandler(runtime.app, settings.slack_app_token).start_async()
        else:
            log.info(
                "HTTP mode: Slack requests at http://%s:%d/slack/events",
                settings.host,
                settings.port,
            )
            await http_server(runtime, settings.host, settings.port).serve()
    finally:
        await runtime.aclose()
