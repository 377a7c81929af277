"""A tiny stand-in for a merchant's order system: `GET /orders/{id}` answers §4 JSON.

For tests and benchmarks: latency and leading failures can be injected, and
`async with OrderServiceServer(app) as url:` serves it on a free loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def load_raw_orders(path: Path) -> dict[str, Any]:
    """Order documents from a JSON file (object or list) or a folder of them, unvalidated."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    orders: dict[str, Any] = {}
    for file in files:
        document = json.loads(file.read_text(encoding="utf-8"))
        for order in document if isinstance(document, list) else [document]:
            orders[str(order["order_id"])] = order
    return orders


def create_order_service(
    orders: Mapping[str, Any] | Path,
    *,
    latency: float = 0.0,
    fail_first: int = 0,
    fail_status: int = 503,
) -> Starlette:
    """The app. A `str` order value is sent as the raw body (to serve broken JSON on purpose).

    `app.state.requests` counts requests; `app.state.orders` may be changed while serving.
    `POST /returns/{id}/decision` keeps written-back decisions in `app.state.decisions`.
    """

    async def get_order(request: Request) -> Response:
        state = request.app.state
        state.requests += 1
        if latency:
            await asyncio.sleep(latency)
        if state.requests <= fail_first:
            return JSONResponse({"error": "injected failure"}, status_code=fail_status)
        document = state.orders.get(request.path_params["order_id"])
        if document is None:
            return JSONResponse({"error": "order not found"}, status_code=404)
        if isinstance(document, str):
            return Response(document, media_type="application/json")
        return JSONResponse(document)

    async def record_decision(request: Request) -> Response:
        """Decisions written back, once per Idempotency-Key (a retry replays the answer)."""
        state = request.app.state
        state.decision_posts += 1
        if state.decision_posts <= state.fail_decisions:
            return JSONResponse({"error": "injected failure"}, status_code=503)
        key = request.headers.get("Idempotency-Key", "")
        if key not in state.decisions:
            state.decisions[key] = {
                "return_id": request.path_params["return_id"],
                **(await request.json()),
            }
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/orders/{order_id:path}", get_order, methods=["GET"]),
            Route("/returns/{return_id}/decision", record_decision, methods=["POST"]),
        ]
    )
    app.state.orders = dict(load_raw_orders(orders) if isinstance(orders, Path) else orders)
    app.state.requests = 0
    app.state.decisions = {}  # Idempotency-Key -> the decision as received
    app.state.decision_posts = 0
    app.state.fail_decisions = 0
    return app


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Leave the host process's signal handlers (pytest's, a benchmark's) alone.
        yield


class OrderServiceServer:
    """Serves an ASGI app on 127.0.0.1 at a free port; the context value is its base URL."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        self.url = ""
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    async def __aenter__(self) -> str:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((self.host, 0))
        port = self._socket.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # re-raise why it could not start
                raise RuntimeError("order service stopped before it started")
            await asyncio.sleep(0.005)
        self.url = f"http://{self.host}:{port}"
        return self.url

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        if self._socket is not None:
            self._socket.close()
