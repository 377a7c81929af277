"""The app's HTTP endpoints: Slack's requests at POST /slack/events (HTTP mode only), and
GET /healthz."""

from __future__ import annotations

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.workers import AckGate
from storage.db import Database


def create_http_app(
    app: AsyncApp,
    db: Database | None,
    gate: AckGate | None = None,
    extra_routes: list[Route] | None = None,
    *,
    slack_events: bool = True,
) -> Starlette:
    """Slack's endpoint, counted by `gate` while each request waits for its ack; without it
    (`slack_events=False`, Socket Mode, where nothing is signed) only the other routes."""
    handler = AsyncSlackRequestHandler(app)
    gate = gate or AckGate()

    async def events(request: Request) -> Response:
        gate.enter()
        try:
            return await handler.handle(request)
        finally:
            gate.leave()

    async def healthz(_request: Request) -> Response:
        if db is None:
            return JSONResponse({"ok": True, "database": "none"})
        try:
            async with db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse({"ok": False, "database": str(exc)[:200]}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok"})

    routes = [Route("/healthz", healthz, methods=["GET"]), *(extra_routes or [])]
    if slack_events:
        routes.append(Route("/slack/events", events, methods=["POST"]))
    return Starlette(routes=routes)
