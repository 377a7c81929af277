"""The app's HTTP endpoints: Slack's requests at POST /slack/events (HTTP mode only), and
GET /healthz. Every request gets an id (`X-Request-Id`, kept from a proxy in front when it set
a plain one) that its log lines carry, the work after a Slack request's ack included; the time
to each ack is measured by kind (`bot.metrics`).

A Slack request reaches Bolt only once it passed, in this order: a size cap (a larger
`Content-Length` is refused unread, a longer stream is cut off at the cap), the signature
(`v0` HMAC with the signing secret, timestamp within 5 minutes) and a check of the shape of
what Bolt and the listeners read from it. Each refusal is one log line without the body."""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.internals import (
    build_normalized_headers,
    extract_content_type,
    parse_body,
)
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blocks.ids import ActionId, BadSubject, Subject
from bot.logs import new_request_id, request_id
from bot.metrics import count_refused, observe_ack, slack_request_kind
from bot.settings import environment_secrets, redact
from bot.workers import AckGate
from storage.db import Database

log = logging.getLogger(__name__)

# Slack's payloads are far below 1 MiB; a modal's view is the largest of them.
MAX_SLACK_BODY = 2 * 1024 * 1024
SLACK_HOOKS_HOST = "hooks.slack.com"
# Interactions whose button value or modal metadata is a Subject the app wrote.
SUBJECT_ACTIONS = frozenset(
    {
        ActionId.POLICY_WHY,
        ActionId.START_REVIEW,
        ActionId.APPROVE,
        ActionId.REQUEST_CHANGES,
        ActionId.RETRY_REFUND,
        ActionId.ADD_EVIDENCE,
        ActionId.MESSAGE_CUSTOMER,
        ActionId.SHOW_MESSAGE,
        ActionId.TAKE,
    }
)
SUBJECT_VIEWS = frozenset(
    {
        ActionId.PROPOSE,
        ActionId.EVIDENCE_MODAL,
        ActionId.REQUEST_CHANGES_MODAL,
        ActionId.SEND_MESSAGE,
    }
)
# Elements inside a modal whose view's private_metadata is a Subject the app wrote.
SUBJECT_VIEW_ACTIONS = frozenset({ActionId.MESSAGE_TEMPLATE})
MAX_NUMBER = 2**31 - 1  # dispute and proposal numbers are database integers
EVENT_TYPES = frozenset({"event_callback", "url_verification", "app_rate_limited"})
# Where Bolt looks for who and where a request comes from: each is absent, null, an id or an
# object with a string id.
_IDENTITY_FIELDS = ("enterprise", "team", "user", "channel")
# Objects Bolt and the listeners look inside.
_OBJECT_FIELDS = (
    "event",
    "message",
    "previous_message",
    "item",
    "assistant_thread",
    "function_data",
    "view",
    "container",
    "state",
    "workflow_step",
)
_STRING_FIELDS = (
    "type",
    "subtype",
    "user_id",
    "channel_id",
    "team_id",
    "enterprise_id",
    "thread_ts",
    "trigger_id",
    "callback_id",
    "action_id",
    "block_id",
    "api_app_id",
    "event_id",
    "function_execution_id",
    "bot_access_token",
    "command",
    "text",
    "user_team",
    "team_domain",
    "context_team_id",
    "context_enterprise_id",
    "app_installed_team_id",
    "private_metadata",
    "challenge",
    "channel_type",
)
_MAX_DEPTH = 4


class Refused(Exception):
    """A request answered with `status` before anything acted on it; `reason` never holds
    any of its body."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def response(self) -> JSONResponse:
        # A body too large may still be on its way: the connection is closed, not drained.
        headers = {"Connection": "close"} if self.status == 413 else None
        return JSONResponse({"ok": False, "error": self.reason}, self.status, headers)


async def read_capped(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) without reading it when its declared length is over
    `limit`, or as soon as more than `limit` bytes arrived."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, f"body larger than {limit} bytes")
    return bytes(body)


def check_signature(secret: str, body: bytes, headers: Headers) -> None:
    """Slack's `v0` signature over the raw body, with a timestamp at most 5 minutes off."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        raise Refused(401, "missing signature")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 15:
        raise Refused(400, "X-Slack-Request-Timestamp is not a number")
    if not signature.isascii():
        raise Refused(401, "bad signature or timestamp")
    try:
        valid = SignatureVerifier(secret).is_valid(body, timestamp, signature)
    except UnicodeDecodeError:
        # The verifier reads UTF-8 only, and only after the timestamp passed; Slack signs bytes.
        digest = hmac.new(secret.encode(), b"v0:%s:%s" % (timestamp.encode(), body), "sha256")
        valid = hmac.compare_digest(f"v0={digest.hexdigest()}", signature)
    if not valid:
        raise Refused(401, "bad signature or timestamp")


def slack_body(body: bytes, headers: Headers) -> tuple[str, dict[str, Any]]:
    """The body as text and as Bolt will parse it (Bolt's own parser and content-type rule),
    refused (400) when it cannot be read or is not a JSON object."""
    try:
        raw = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    content_type = extract_content_type(build_normalized_headers(headers))  # type: ignore[arg-type]
    try:
        parsed = parse_body(raw, content_type)
    except (ValueError, RecursionError):
        raise Refused(400, "body is neither JSON nor a form with a JSON payload") from None
    if not isinstance(parsed, dict):
        raise Refused(400, "payload is not a JSON object")
    return raw, parsed


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL without credentials, else None."""
    if any(c.isspace() or c == "\\" or ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname.lower(), port or default


def response_url_allowed(url: object, api_url: str) -> bool:
    """Slack's hooks host over HTTPS, or the host of the configured Web API (the sandbox)."""
    if not isinstance(url, str):
        return False
    origin = _origin(url)
    return origin is not None and origin in {("https", SLACK_HOOKS_HOST, 443), _origin(api_url)}


class SlackShape:
    """What Bolt and the listeners read from a signed request, checked before they read it:
    each problem is a 400 naming the field, never its value."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url

    def check(self, body: dict[str, Any]) -> None:
        self._fields(body, "body", 0)
        if "command" in body:
            self._command(body)
        elif "ssl_check" in body and set(body) <= {"ssl_check", "token"}:
            return
        else:
            kind = body.get("type")
            if not kind:
                raise Refused(400, "not a Slack request: no command and no type")
            if kind == "event_callback":
                self._event(body)
            elif kind == "url_verification":
                _require_string(body, "challenge", "body")
            elif kind not in EVENT_TYPES:
                self._interaction(body, kind)
        self._response_urls(body)

    def _fields(self, obj: dict[str, Any], where: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        for key in _STRING_FIELDS:
            if obj.get(key) is not None and not isinstance(obj[key], str):
                raise Refused(400, f"{where}.{key}: expected a string")
        for key in _IDENTITY_FIELDS:
            value = obj.get(key)
            if value is None or isinstance(value, str):
                continue
            if not isinstance(value, dict) or not isinstance(value.get("id", ""), str):
                raise Refused(400, f"{where}.{key}: expected an id or an object with an id")
        for key in _OBJECT_FIELDS:
            value = obj.get(key)
            if value is None:
                continue
            if not isinstance(value, dict):
                raise Refused(400, f"{where}.{key}: expected an object")
            self._fields(value, f"{where}.{key}", depth + 1)
        for key in ("authorizations", "response_urls", "actions", "files"):
            value = obj.get(key)
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise Refused(400, f"{where}.{key}: expected a list of objects")
            if key in ("authorizations", "response_urls"):
                for item in value:
                    self._fields(item, f"{where}.{key}[]", depth + 1)
        install = obj.get("is_enterprise_install")
        if install is not None and not isinstance(install, bool | str):
            raise Refused(400, f"{where}.is_enterprise_install: expected a boolean")

    def _command(self, body: dict[str, Any]) -> None:
        for key in ("command", "user_id", "response_url"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise Refused(400, f"slash command without {key}")

    def _event(self, body: dict[str, Any]) -> None:
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise Refused(400, "event_callback without an event and its type")
        _require_string(body, "event_id", "body")

    def _interaction(self, body: dict[str, Any], kind: str) -> None:
        user = body.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
            raise Refused(400, f"{kind} without user.id")
        if kind == "workflow_step_edit":
            raise Refused(400, f"{kind}: workflow steps are not used by this app")
        if kind in ("block_actions", "interactive_message"):
            actions = body.get("actions")
            if not actions:
                raise Refused(400, f"{kind} without actions")
        if kind == "block_actions":
            _require_string(body, "trigger_id", "block_actions")
            for action in body["actions"]:
                _require_string(action, "action_id", "block_actions.actions[]")
                for key in ("block_id", "value", "type"):
                    if action.get(key) is not None and not isinstance(action[key], str):
                        raise Refused(400, f"block_actions.actions[].{key}: expected a string")
            first = body["actions"][0]
            if first["action_id"] in SUBJECT_ACTIONS:
                _check_subject(first.get("value"), f"{first['action_id']} value")
            if first["action_id"] in SUBJECT_VIEW_ACTIONS:
                view = body.get("view")
                metadata = view.get("private_metadata") if isinstance(view, dict) else None
                _check_subject(metadata, f"{first['action_id']} view metadata")
        if kind in ("view_submission", "view_closed"):
            view = body.get("view")
            if not isinstance(view, dict):
                raise Refused(400, f"{kind} without a view")
            _require_string(view, "callback_id", f"{kind}.view")
            _require_string(view, "type", f"{kind}.view")
            if view["type"] == "workflow_step":
                raise Refused(400, f"{kind}: workflow steps are not used by this app")
            self._state(view.get("state"), kind)
            if kind == "view_submission" and view["callback_id"] in SUBJECT_VIEWS:
                _check_subject(view.get("private_metadata"), f"{view['callback_id']} metadata")

    def _state(self, state: object, kind: str) -> None:
        """view.state.values: block id -> action id -> the element's state object."""
        if state is None:
            return
        values = state.get("values") if isinstance(state, dict) else None
        if values is None:
            return
        where = f"{kind}.view.state.values"
        if not isinstance(values, dict):
            raise Refused(400, f"{where}: expected an object")
        for block in values.values():
            if not isinstance(block, dict) or not all(isinstance(e, dict) for e in block.values()):
                raise Refused(400, f"{where}: expected objects of element states")
            for element in block.values():
                value = element.get("value")
                option = element.get("selected_option")
                files = element.get("files")
                if value is not None and not isinstance(value, str):
                    raise Refused(400, f"{where}[].value: expected a string")
                if option is not None and not (
                    isinstance(option, dict) and isinstance(option.get("value", ""), str)
                ):
                    raise Refused(400, f"{where}[].selected_option: expected an option")
                if files is not None and not (
                    isinstance(files, list) and all(isinstance(f, dict) for f in files)
                ):
                    raise Refused(400, f"{where}[].files: expected a list of files")

    def _response_urls(self, body: dict[str, Any]) -> None:
        if "response_urls" in body and not isinstance(body["response_urls"], list):
            raise Refused(400, "response_urls: expected a list of objects")
        urls = [body["response_url"]] if "response_url" in body else []
        urls += [entry.get("response_url") for entry in body.get("response_urls", [])]
        for url in urls:
            if not response_url_allowed(url, self.api_url):
                raise Refused(400, "response_url is not Slack's")


def _require_string(obj: dict[str, Any], key: str, where: str) -> None:
    if not isinstance(obj.get(key), str) or not obj[key]:
        raise Refused(400, f"{where}.{key}: expected a string")


def _check_subject(raw: object, what: str) -> None:
    try:
        subject = Subject.decode(raw if isinstance(raw, str) else None)
    except BadSubject:
        raise Refused(400, f"{what} was not written by this app") from None
    if max(subject.dispute, subject.proposal or 0, subject.message or 0) > MAX_NUMBER:
        raise Refused(400, f"{what} was not written by this app")


def refusal_line(where: str, refused: Refused) -> None:
    log.warning("refused %s (%d): %s", where, refused.status, refused.reason)


def create_http_app(
    app: AsyncApp,
    db: Database | None,
    gate: AckGate | None = None,
    extra_routes: list[Route] | None = None,
    *,
    slack_events: bool = True,
    signing_secret: str | None = None,
) -> Starlette:
    """Slack's endpoint, counted by `gate` while each request waits for its ack; without it
    (`slack_events=False`, Socket Mode, where nothing is signed) only the other routes.
    Without `signing_secret` the Bolt app's own signature check is the only one."""
    gate = gate or AckGate()
    shape = SlackShape(str(app.client.base_url))

    async def events(request: Request) -> Response:
        started = time.perf_counter()
        gate.enter()
        try:
            try:
                body = await read_capped(request, MAX_SLACK_BODY)
                if signing_secret is not None:
                    check_signature(signing_secret, body, request.headers)
                    _, parsed = slack_body(body, request.headers)
                    shape.check(parsed)
            except Refused as refused:
                refusal_line("a Slack request", refused)
                count_refused(refused.status)
                return refused.response()
            except ClientDisconnect:
                count_refused(400)
                return Response(status_code=400)
            bolt_request = to_async_bolt_request(request, body)
            answer = await app.async_dispatch(bolt_request)
            response = to_starlette_response(answer)
            kind = slack_request_kind(bolt_request.body)
            observe_ack(kind, response.status_code, time.perf_counter() - started)
            return response
        finally:
            gate.leave()

    async def healthz(_request: Request) -> Response:
        if db is None:
            return JSONResponse({"ok": True, "database": "none"})
        try:
            async with db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            detail = redact(" ".join(str(exc).split()), environment_secrets())[:300]
            log.warning("health check: database unavailable: %s: %s", type(exc).__name__, detail)
            return JSONResponse({"ok": False, "database": "unavailable"}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok"})

    routes = [Route("/healthz", healthz, methods=["GET"]), *(extra_routes or [])]
    if slack_events:
        routes.append(Route("/slack/events", events, methods=["POST"]))
    return Starlette(routes=routes, middleware=[Middleware(RequestIds)])


class RequestIds:
    """Gives each HTTP request its id: in the `request_id` context variable for its log lines
    (and the jobs it starts), and in the response's `X-Request-Id` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id")
        rid = new_request_id(given)
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", rid.encode("ascii")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
