"""A fault-injecting HTTP proxy in front of a Stripe stand-in (localstripe), for the money tests.

`FaultyStripe(target)` forwards every request to `target` over real HTTP and misbehaves the way
the network and payment providers do in production, as planned by the test, call by call:

    async with FaultyStripe(stripe) as proxy:            # or .start_in_thread() / .stop_thread()
        proxy.plan("refund_post", Fault.lose_answer())   # the next refund POST: acted, unanswered
        ...  # run the app with STRIPE_API_BASE=proxy.url
        assert proxy.count("refund_post") == 1

Request kinds: `refund_post` (POST /v1/refunds), `refund_lookup` (GET /v1/refunds, the list
endpoint) and `other`; a plan for `any` matches every kind. Planned faults are kept in one FIFO
list: each request takes the oldest plan that matches its kind. Faults:

- `drop_before(hold)`: never forwarded; held up to `hold` seconds (or until the client gives up),
  then the connection is closed without an answer. Nothing happens at the provider.
- `lose_answer(hold)`: forwarded (the provider acts), then held and closed the same way.
- `delay_effect(seconds)`: forwarded `seconds` later from a task the proxy owns, so it happens
  even when the client has given up by then; a client still waiting gets the real answer.
- `status(code, body)`: answered with `code` and a Stripe-shaped error body, never forwarded.
- `status_after_forward(code, body)`: forwarded (the provider acts), answered with `code`.
- `slow(seconds)`: forwarded at once, the real answer returned `seconds` later.

Paths under `/_faults` are the proxy's own and never forwarded: `POST /_faults` plans
(`{"kind": "refund_post", "fault": "delay_effect", "seconds": 1.5, "times": 1}`; `hold` for the
two holding faults, `code` and `body` for the status faults, `"times": null` for every matching
request), `GET /_faults` lists what is still planned, `DELETE /_faults` clears it (`?log=1` also
clears the log), `GET /_faults/log` reads the log.

At shutdown, client connections still held are closed unanswered, and every forward the proxy
has decided on (delayed effects included) is awaited, so it happens before `stop()` returns.

localstripe ignores `Idempotency-Key`: the same key sent twice makes two refunds, where Stripe
would replay the first answer. Its refund list is covered in `refunds_at`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal
from urllib.parse import parse_qs

import httpx
import uvicorn

from sandbox.world.localstripe_runner import auth_headers

__all__ = [
    "ANY",
    "FAULTS",
    "HOLD_FOREVER",
    "KINDS",
    "OTHER",
    "REFUND_LOOKUP",
    "REFUND_POST",
    "Fault",
    "FaultyStripe",
    "LoggedRequest",
    "refunds_at",
    "request_kind",
    "stripe_error",
]

REFUND_POST = "refund_post"
REFUND_LOOKUP = "refund_lookup"
ANY = "any"
OTHER = "other"
KINDS = frozenset({REFUND_POST, REFUND_LOOKUP, ANY})  # what a plan may name

HOLD_FOREVER = 3600.0
FAULTS = (
    "drop_before",
    "lose_answer",
    "delay_effect",
    "status",
    "status_after_forward",
    "slow",
)
_HOLDING = ("drop_before", "lose_answer")
_STATUS = ("status", "status_after_forward")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Outcome = Literal["done", "gone", "closing", "timeout"]

_HOP_BY_HOP = frozenset(
    {
        b"host",
        b"content-length",
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"upgrade",
        b"proxy-connection",
    }
)
_ERROR_CODES = {404: "resource_missing", 409: "idempotency_key_in_use", 429: "rate_limit"}


def request_kind(method: str, path: str) -> str:
    """`refund_post`, `refund_lookup` (the refund list) or `other`."""
    if path.rstrip("/") == "/v1/refunds":
        if method == "POST":
            return REFUND_POST
        if method == "GET":
            return REFUND_LOOKUP
    return OTHER


def stripe_error(code: int, message: str | None = None) -> dict[str, Any]:
    """A Stripe-shaped error body: `api_error` for a 5xx, `invalid_request_error` otherwise."""
    return {
        "error": {
            "type": "api_error" if code >= 500 else "invalid_request_error",
            "code": _ERROR_CODES.get(code, "planned_fault"),
            "message": message or f"HTTP {code} planned by the fault-injecting proxy",
        }
    }


@dataclass(frozen=True)
class Fault:
    """One planned misbehaviour; build it with the class methods.

    `seconds` is the hold of `drop_before` / `lose_answer`, the delay of `delay_effect` and the
    wait of `slow`; `code` and `body` belong to the two status faults (`body` None: a Stripe
    error body; a dict or list: sent as JSON; str or bytes: sent as they are).
    """

    name: str
    seconds: float = 0.0
    code: int | None = None
    body: Any = None

    def __post_init__(self) -> None:
        if self.name not in FAULTS:
            raise ValueError(f"unknown fault {self.name!r}; one of {', '.join(FAULTS)}")
        seconds = self.seconds
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError(f"{self.name}: seconds must be a number, got {seconds!r}")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"{self.name}: seconds must be finite and >= 0, got {seconds!r}")
        if self.name in _STATUS:
            code = self.code
            if isinstance(code, bool) or not isinstance(code, int) or not 200 <= code <= 599:
                raise ValueError(f"{self.name}: code must be an HTTP status 200-599, got {code!r}")
        elif self.code is not None or self.body is not None:
            raise ValueError(f"{self.name} takes no status code or body")

    @classmethod
    def drop_before(cls, hold: float = HOLD_FOREVER) -> Fault:
        """Not forwarded; held up to `hold` s (0: at once), then closed without an answer."""
        return cls("drop_before", seconds=hold)

    @classmethod
    def lose_answer(cls, hold: float = HOLD_FOREVER) -> Fault:
        """Forwarded (the provider acts), then held up to `hold` s and closed unanswered."""
        return cls("lose_answer", seconds=hold)

    @classmethod
    def delay_effect(cls, seconds: float) -> Fault:
        """Forwarded `seconds` later, whether or not the client is still waiting."""
        return cls("delay_effect", seconds=seconds)

    @classmethod
    def status(cls, code: int, body: Any = None) -> Fault:
        """Answered with `code` (and a Stripe error body unless `body`), never forwarded."""
        return cls("status", code=code, body=body)

    @classmethod
    def status_after_forward(cls, code: int, body: Any = None) -> Fault:
        """Forwarded (the provider acts), then answered with `code` instead of its answer."""
        return cls("status_after_forward", code=code, body=body)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Forwarded at once; the real answer is returned `seconds` later."""
        return cls("slow", seconds=seconds)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """From the JSON of `POST /_faults`: `fault`, plus `hold`/`seconds`, `code`, `body`."""
        name = data.get("fault")
        if name in _HOLDING:
            return cls(name, seconds=data.get("hold", data.get("seconds", HOLD_FOREVER)))
        if name in ("delay_effect", "slow"):
            if "seconds" not in data:
                raise ValueError(f"{name} needs seconds")
            return cls(name, seconds=data["seconds"])
        if name in _STATUS:
            return cls(name, code=data.get("code"), body=data.get("body"))
        raise ValueError(f"unknown fault {name!r}; one of {', '.join(FAULTS)}")

    def to_json(self) -> dict[str, Any]:
        if self.name in _STATUS:
            return {"fault": self.name, "code": self.code, "body": self.body}
        key = "hold" if self.name in _HOLDING else "seconds"
        return {"fault": self.name, key: self.seconds}

    def answer(self) -> tuple[int, bytes, str]:
        """The status, body and content type a status fault answers with."""
        assert self.code is not None
        if self.body is None:
            return self.code, json.dumps(stripe_error(self.code)).encode(), "application/json"
        if isinstance(self.body, bytes):
            return self.code, self.body, "application/json"
        if isinstance(self.body, str):
            return self.code, self.body.encode(), "application/json"
        return self.code, json.dumps(self.body).encode(), "application/json"


@dataclass
class LoggedRequest:
    """One request the proxy saw. Times are `time.time()` seconds."""

    method: str
    path: str
    query: str
    kind: str
    idempotency_key: str | None
    refund_request: str | None  # the `metadata[refund_request]` form field of a refund POST
    fault: str | None  # the planned fault applied, None when passed through
    at: float
    forwarded: bool = False  # sent to the provider (for `delay_effect`: once the delay is over)
    forwarded_at: float | None = None
    upstream_status: int | None = None
    status: int | None = None  # the status the client was answered; None: no answer
    error: str | None = None  # why forwarding failed, if it did


@dataclass
class _Plan:
    kind: str
    fault: Fault
    remaining: int | None  # None: every matching request until cleared


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    content_type: str | None


@dataclass(frozen=True)
class _Upstream:
    method: str
    url: httpx.URL
    headers: list[tuple[bytes, bytes]]
    body: bytes


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signal handlers belong to whoever owns the process (pytest, a benchmark).
        yield


class _Exchange:
    """The client side of one proxied request: wait on it, answer it, or hang up on it."""

    def __init__(
        self, receive: Receive, send: Send, closing: asyncio.Event, on_answer: Callable[[int], None]
    ) -> None:
        self._receive = receive
        self._send = send
        self._closing = closing
        self._on_answer = on_answer
        self.gone = False

    async def _until_gone(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.gone = True

    async def wait(self, within: float | None, task: asyncio.Future[Any] | None = None) -> Outcome:
        """Until `task` is done, the client leaves, the proxy closes, or `within` s pass."""
        if self.gone:
            return "gone"
        gone = asyncio.ensure_future(self._until_gone())
        closing = asyncio.ensure_future(self._closing.wait())
        waiters: list[asyncio.Future[Any]] = [gone, closing]
        if task is not None:
            waiters.append(task)
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            gone.cancel()
            closing.cancel()
            await asyncio.gather(gone, closing, return_exceptions=True)
        if task is not None and task in done:
            return "done"
        if gone in done:
            return "gone"
        if closing in done:
            return "closing"
        return "timeout"

    async def answer(self, answer: _Answer) -> None:
        headers = [(b"content-length", str(len(answer.body)).encode())]
        if answer.content_type:
            headers.append((b"content-type", answer.content_type.encode("latin-1")))
        await self._send(
            {"type": "http.response.start", "status": answer.status, "headers": headers}
        )
        await self._send({"type": "http.response.body", "body": answer.body})
        if not self.gone:
            self._on_answer(answer.status)

    async def hang_up(self) -> None:
        """Close the connection without an answer (nothing, if the client already left)."""
        if self.gone:
            return
        # uvicorn hands each request's own `send` bound to the cycle that holds the connection.
        transport = getattr(getattr(self._send, "__self__", None), "transport", None)
        if isinstance(transport, asyncio.BaseTransport):
            transport.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._until_gone(), 1.0)
            return
        # Elsewhere: promise a body that never comes, so the server closes the connection.
        start = {
            "type": "http.response.start",
            "status": 502,
            "headers": [(b"content-length", b"1")],
        }
        await self._send(start)


class FaultyStripe:
    """The proxy on `host` at a free port: `async with` in the running loop, or in a thread.

    Planning (`plan`, `clear`) and reading the log are safe from any thread.
    """

    def __init__(
        self,
        target: str,
        *,
        host: str = "127.0.0.1",
        upstream_timeout: float = 60.0,
        max_connections: int = 200,
    ) -> None:
        self.target = target.rstrip("/")
        self.host = host
        self.upstream_timeout = upstream_timeout
        self.max_connections = max_connections
        self.port: int | None = None
        self._lock = threading.Lock()
        self._plans: list[_Plan] = []
        self._log: list[LoggedRequest] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._server: _QuietServer | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self._closing = asyncio.Event()
        self._owned: set[asyncio.Task[Any]] = set()
        self._thread: threading.Thread | None = None
        self._stop_requested: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """The base URL to give the app as STRIPE_API_BASE."""
        if self.port is None:
            raise RuntimeError("the fault-injecting proxy has not started")
        return f"http://{self.host}:{self.port}"

    # Planning

    def plan(self, kind: str, fault: Fault, times: int | None = 1) -> None:
        """Apply `fault` to the next `times` requests of `kind` (None: all, until cleared)."""
        if kind not in KINDS:
            raise ValueError(f"unknown request kind {kind!r}; one of {', '.join(sorted(KINDS))}")
        if not isinstance(fault, Fault):
            raise ValueError(f"not a Fault: {fault!r}")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
            raise ValueError(f"times must be a whole number or None, got {times!r}")
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        with self._lock:
            self._plans.append(_Plan(kind, fault, times))

    def planned(self) -> list[dict[str, Any]]:
        """What is still planned, oldest first."""
        with self._lock:
            return [
                {"kind": p.kind, "times": p.remaining, **p.fault.to_json()} for p in self._plans
            ]

    def clear(self, *, log: bool = False) -> None:
        """Forget every planned fault (and the log, with `log=True`)."""
        with self._lock:
            self._plans.clear()
            if log:
                self._log.clear()

    def _take(self, kind: str) -> Fault | None:
        for index, plan in enumerate(self._plans):
            if plan.kind in (kind, ANY):
                if plan.remaining is not None:
                    plan.remaining -= 1
                    if plan.remaining == 0:
                        del self._plans[index]
                return plan.fault
        return None

    # The log

    @property
    def log(self) -> list[LoggedRequest]:
        """A copy of every request seen so far, oldest first."""
        with self._lock:
            return [replace(entry) for entry in self._log]

    def forwarded_posts(self) -> list[LoggedRequest]:
        """The refund POSTs that reached the provider."""
        return [e for e in self.log if e.kind == REFUND_POST and e.forwarded]

    def count(self, kind: str, *, forwarded: bool | None = True) -> int:
        """How many requests of `kind` (or `any`) were seen, by whether they were forwarded."""
        return sum(
            1
            for e in self.log
            if kind in (e.kind, ANY) and (forwarded is None or e.forwarded == forwarded)
        )

    def _update(self, entry: LoggedRequest, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(entry, name, value)

    # Serving in the running loop

    async def start(self) -> FaultyStripe:
        """Serve in the running loop; returns once the port is bound."""
        if self._server is not None:
            raise RuntimeError("the fault-injecting proxy is already running")
        self._loop = asyncio.get_running_loop()
        self._closing = asyncio.Event()
        self._client = httpx.AsyncClient(
            timeout=self.upstream_timeout,
            limits=httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_connections,
            ),
            trust_env=False,
        )
        # asyncio sets TCP_NODELAY on accepted connections only when the listening socket's
        # protocol is IPPROTO_TCP; with the default 0, every answer on a kept-alive connection
        # stalls ~40 ms (Nagle against delayed ACKs between the header and body writes).
        sock = self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind((self.host, 0))
        config = uvicorn.Config(
            self,
            http="h11",
            ws="none",
            interface="asgi3",
            lifespan="off",
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            timeout_graceful_shutdown=30,
            backlog=1024,
        )
        server = self._server = _QuietServer(config)
        self._serve_task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if self._serve_task.done():
                await self._close_resources()
                self._serve_task.result()  # re-raises why it could not start
                raise RuntimeError("the fault-injecting proxy stopped during start-up")
            await asyncio.sleep(0.005)
        self.port = int(sock.getsockname()[1])
        return self

    async def stop(self) -> None:
        """Hang up on held clients, let planned effects happen, stop serving."""
        if self._thread is not None and self._loop is not asyncio.get_running_loop():
            await asyncio.to_thread(self.stop_thread)
            return
        server, task = self._server, self._serve_task
        if server is None or task is None:
            return
        self._closing.set()
        server.should_exit = True
        try:
            await task
        finally:
            await self._close_resources()

    async def _close_resources(self) -> None:
        await self._drain()
        if self._client is not None:
            await self._client.aclose()
        if self._socket is not None:
            self._socket.close()
        self._client = self._server = self._serve_task = self._socket = None

    async def __aenter__(self) -> FaultyStripe:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def settle(self) -> None:
        """Wait until every forward the proxy has decided on (delayed ones too) is done."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if loop is asyncio.get_running_loop():
            await self._drain()
        else:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._drain(), loop))

    async def _drain(self) -> None:
        while self._owned:
            await asyncio.gather(*self._owned, return_exceptions=True)

    # Serving from a thread

    def start_in_thread(self, timeout: float = 10.0) -> FaultyStripe:
        """Serve from a daemon thread with its own event loop; returns once the port is bound."""
        if self._thread is not None or self._server is not None:
            raise RuntimeError("the fault-injecting proxy is already running")
        started = threading.Event()
        failures: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self._serve_until_stopped(started))
            except BaseException as exc:
                failures.append(exc)
                started.set()

        self._thread = threading.Thread(target=run, name="faulty-stripe", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise RuntimeError(f"the fault-injecting proxy did not start within {timeout:g}s")
        if failures:
            self._thread.join(timeout)
            self._thread = None
            raise RuntimeError("the fault-injecting proxy could not start") from failures[0]
        return self

    async def _serve_until_stopped(self, started: threading.Event) -> None:
        self._stop_requested = asyncio.Event()
        await self.start()
        try:
            started.set()
            await self._stop_requested.wait()
        finally:
            await self.stop()

    def stop_thread(self, timeout: float = 30.0) -> None:
        """Stop the threaded proxy (as `stop()` does) and wait for its thread."""
        thread, loop, stop = self._thread, self._loop, self._stop_requested
        if thread is None:
            return
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                loop.call_soon_threadsafe(stop.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"the fault-injecting proxy did not stop within {timeout:g}s")
        self._thread = None

    def __enter__(self) -> FaultyStripe:
        return self.start_in_thread()

    def __exit__(self, *exc_info: object) -> None:
        self.stop_thread()

    # The ASGI app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client left before its request was complete
        if scope["path"].startswith("/_faults"):
            await self._control(scope, body, send)
        else:
            await self._proxy(scope, body, receive, send)

    async def _proxy(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        query: bytes = scope.get("query_string", b"")
        kind = request_kind(method, path)
        entry = LoggedRequest(
            method=method,
            path=path,
            query=query.decode("latin-1"),
            kind=kind,
            idempotency_key=_header(headers, b"idempotency-key"),
            refund_request=_refund_request(body, headers) if kind == REFUND_POST else None,
            fault=None,
            at=time.time(),
        )
        with self._lock:
            fault = self._take(kind)
            entry.fault = fault.name if fault is not None else None
            self._log.append(entry)
        raw_path = scope.get("raw_path") or path.encode()
        url = httpx.URL(self.target + raw_path.decode("latin-1"))
        upstream = _Upstream(
            method=method,
            url=url.copy_with(query=query) if query else url,
            headers=[(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP],
            body=body,
        )
        client = _Exchange(
            receive, send, self._closing, lambda status: self._update(entry, status=status)
        )
        await self._apply(fault, upstream, entry, client)

    async def _apply(
        self, fault: Fault | None, upstream: _Upstream, entry: LoggedRequest, client: _Exchange
    ) -> None:
        if fault is None:
            await client.answer(await self._forward(upstream, entry))
        elif fault.name == "drop_before":
            if await client.wait(fault.seconds) != "gone":
                await client.hang_up()
        elif fault.name == "lose_answer":
            await self._forward(upstream, entry)
            if await client.wait(fault.seconds) != "gone":
                await client.hang_up()
        elif fault.name == "delay_effect":
            effect = self._own(self._forward_later(fault.seconds, upstream, entry))
            outcome = await client.wait(None, effect)
            if outcome == "done":
                await client.answer(effect.result())
            elif outcome == "closing":
                await client.hang_up()
        elif fault.name == "status":
            await client.answer(_Answer(*fault.answer()))
        elif fault.name == "status_after_forward":
            await self._forward(upstream, entry)
            await client.answer(_Answer(*fault.answer()))
        elif fault.name == "slow":
            answer = await self._forward(upstream, entry)
            outcome = await client.wait(fault.seconds)
            if outcome == "timeout":
                await client.answer(answer)
            elif outcome == "closing":
                await client.hang_up()

    def _own(self, coroutine: Coroutine[Any, Any, _Answer]) -> asyncio.Task[_Answer]:
        """A task of the proxy's, not of the request: it runs on when the client leaves."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._owned.add(task)
        task.add_done_callback(self._owned.discard)
        return task

    async def _forward(self, upstream: _Upstream, entry: LoggedRequest) -> _Answer:
        return await asyncio.shield(self._own(self._send_upstream(upstream, entry)))

    async def _forward_later(
        self, delay: float, upstream: _Upstream, entry: LoggedRequest
    ) -> _Answer:
        await asyncio.sleep(delay)
        return await self._send_upstream(upstream, entry)

    async def _send_upstream(self, upstream: _Upstream, entry: LoggedRequest) -> _Answer:
        assert self._client is not None
        self._update(entry, forwarded=True, forwarded_at=time.time())
        try:
            response = await self._client.request(
                upstream.method, upstream.url, headers=upstream.headers, content=upstream.body
            )
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self._update(entry, error=reason)
            body = stripe_error(502, f"the provider could not be reached: {reason}")
            return _Answer(502, json.dumps(body).encode(), "application/json")
        self._update(entry, upstream_status=response.status_code)
        return _Answer(response.status_code, response.content, response.headers.get("content-type"))

    async def _control(self, scope: Scope, body: bytes, send: Send) -> None:
        method, path = scope["method"], scope["path"].rstrip("/")
        if path == "/_faults" and method == "POST":
            try:
                data = json.loads(body or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("a JSON object is expected")
                fault = Fault.from_json(data)
                times = data.get("times", 1)
                self.plan(str(data.get("kind")), fault, times=times)
            except (ValueError, TypeError) as exc:
                await _send_json(send, 400, {"error": str(exc)})
                return
            await _send_json(send, 201, {"kind": data["kind"], "times": times, **fault.to_json()})
        elif path == "/_faults" and method == "GET":
            await _send_json(send, 200, {"planned": self.planned()})
        elif path == "/_faults" and method == "DELETE":
            flags = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("log", [""])
            self.clear(log=flags[-1].lower() in {"1", "true", "yes"})
            await _send_json(send, 200, {"planned": []})
        elif path == "/_faults/log" and method == "GET":
            await _send_json(send, 200, {"log": [asdict(entry) for entry in self.log]})
        elif path in ("/_faults", "/_faults/log"):
            await _send_json(send, 405, {"error": f"{method} is not allowed on {path}"})
        else:
            await _send_json(send, 404, {"error": f"no such control path {path}"})


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _refund_request(body: bytes, headers: list[tuple[bytes, bytes]]) -> str | None:
    content_type = _header(headers, b"content-type") or ""
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return None
    values = parse_qs(body.decode("utf-8", errors="replace")).get("metadata[refund_request]")
    return values[0] if values else None


async def _send_json(send: Send, status: int, document: Any) -> None:
    body = json.dumps(document).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def refunds_at(
    base: str,
    payment_intent: str,
    *,
    page_size: int = 100,
    client: httpx.AsyncClient | None = None,
) -> list[dict[str, Any]]:
    """Every refund of `payment_intent`, read from the provider at `base` (not the proxy).

    Pages through `GET /v1/refunds?payment_intent=...&limit=page_size` with `starting_after`
    until `has_more` is false. localstripe (1.15) honours `limit` (10 when absent; no upper
    bound, where Stripe caps it at 100), `starting_after` and `has_more`. It lists newest first
    by `created`, which is in whole seconds; refunds created within one second keep their
    creation order. An unknown `starting_after` id makes it start again from the first page
    (Stripe answers an error), so a page that repeats an id already read raises RuntimeError
    instead of looping. `ending_before` is not supported (HTTP 500).
    """
    if client is None:
        async with httpx.AsyncClient(timeout=30, trust_env=False) as own:
            return await refunds_at(base, payment_intent, page_size=page_size, client=own)
    refunds: list[dict[str, Any]] = []
    seen: set[str] = set()
    params: dict[str, Any] = {"payment_intent": payment_intent, "limit": page_size}
    while True:
        response = await client.get(
            f"{base.rstrip('/')}/v1/refunds", params=params, headers=auth_headers()
        )
        response.raise_for_status()
        page = response.json()
        data = page["data"]
        for refund in data:
            if refund["id"] in seen:
                raise RuntimeError(
                    f"the refund list of {payment_intent} went back to {refund['id']}"
                )
            seen.add(refund["id"])
            refunds.append(refund)
        if not page.get("has_more") or not data:
            return refunds
        params["starting_after"] = data[-1]["id"]
