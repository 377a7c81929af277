"""The Slack Web API over HTTP, as a Starlette app around a Workspace."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.slack.blockkit import validate_message
from sandbox.slack.file_routes import file_routes
from sandbox.slack.methods import METHODS, Params, flag
from sandbox.slack.rate_limits import SlackLimits
from sandbox.slack.workspace import SlackError, Workspace

# Form bodies carry structured arguments as JSON strings; JSON bodies carry them as objects.
JSON_ARGS = {"blocks", "attachments", "view", "metadata", "files"}


async def read_params(request: Request) -> Params:
    """Query string plus a form or JSON body, with JSON-string arguments decoded."""
    params: Params = dict(request.query_params)
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            body = await request.body()
            if body:
                params.update(json.loads(body))
        else:
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key in JSON_ARGS:
        if isinstance(params.get(key), str) and params[key]:
            try:
                params[key] = json.loads(params[key])
            except json.JSONDecodeError as exc:
                raise SlackError("invalid_json", detail=str(exc)) from exc
    return params


def _token(request: Request, params: Params) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return params.get("token")


APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


def _error(error: str, status: int = 200, **extra: Any) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error, **extra}, status_code=status)


async def web_api(request: Request) -> JSONResponse:
    """POST|GET /api/<method>: Slack answers HTTP 200 with ok=false, except 429."""
    ws: Workspace = request.app.state.workspace
    method = request.path_params["method"]
    handler = METHODS.get(method)
    if handler is None:
        return _error("unknown_method")
    try:
        params = await read_params(request)
        token = _token(request, params)
        if not token:
            return _error("not_authed")
        # Socket Mode's method takes only the app-level token; every other one, the bot's.
        expected, other = (ws.bot_token, ws.app_token)
        if method in APP_TOKEN_METHODS:
            expected, other = other, expected
        if token == other:
            return _error("not_allowed_token_type")
        if token != expected:
            return _error("invalid_auth")
        armed = ws.take_error(method)
        if armed is not None:
            return _error(armed)
        retry_after = ws.take_ratelimit(method)
        if retry_after is None:
            channel = params.get("channel")
            retry_after = ws.rate_limits.check(method, str(channel) if channel else None)
        if retry_after is not None:
            return JSONResponse(
                {"ok": False, "error": "ratelimited"},
                status_code=429,
                headers={"Retry-After": str(retry_after)},
            )
        ws.record_call(method, {k: v for k, v in params.items() if k != "token"})
        answer = JSONResponse({"ok": True, **handler(ws, params, request)})
        late = ws.take_late_answer(method)
        if late is not None:
            await asyncio.sleep(late)
        return answer
    except SlackError as exc:
        return _error(exc.error, **exc.extra)


async def respond(request: Request) -> JSONResponse:
    """POST /_sandbox/response/<token>: what Bolt's respond() posts to a response_url."""
    ws: Workspace = request.app.state.workspace
    try:
        rurl = ws.use_response_url(request.path_params["token"])
    except SlackError as exc:
        return _error(exc.error, status=404)
    try:
        body = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        return _error("invalid_payload", status=400)
    text, blocks = body.get("text") or "", body.get("blocks") or []
    errors = validate_message(text, blocks)
    if errors:
        return _error("invalid_blocks", status=400, errors=errors)
    try:
        _apply_response(ws, rurl, body, text, blocks)
    except SlackError as exc:
        return _error(exc.error, status=404)
    return JSONResponse({"ok": True})


def _apply_response(ws: Workspace, rurl: Any, body: Params, text: str, blocks: list) -> None:
    if flag(body.get("replace_original")) and ws.keep_for_ack(rurl, text, blocks):
        return  # shown in place of the ack, which the page shows once the app has answered
    original = rurl.message_ts
    if flag(body.get("delete_original")) and original:
        if rurl.is_ephemeral:
            ws.delete_ephemeral(original)
        else:
            ws.delete_message(rurl.channel, original)
        return
    if flag(body.get("replace_original")) and original:
        if rurl.is_ephemeral:
            ws.replace_ephemeral(original, text=text, blocks=blocks)
            return
        ws.update_message(rurl.channel, original, text=text, blocks=blocks)
        return
    thread_ts = body.get("thread_ts") or None
    if body.get("response_type") == "in_channel":
        ws.post_message(rurl.channel, text=text, blocks=blocks, thread_ts=thread_ts)
    else:
        ws.post_ephemeral(
            rurl.channel,
            rurl.user,
            text=text,
            blocks=blocks,
            via="response_url",
            thread_ts=thread_ts,
        )


async def limits(request: Request) -> JSONResponse:
    """GET /_sandbox/limits: the rate limits in force and what they refused; POST a JSON
    `SlackLimits` (`{"scale": 10}`: ten times Slack's limits), or `{"off": true}`."""
    ws: Workspace = request.app.state.workspace
    if request.method == "POST":
        if not request.headers.get("content-type", "").startswith("application/json"):
            return _error("invalid_content_type", status=415)
        try:
            body = json.loads(await request.body() or b"{}")
            chosen = None if body.get("off") else SlackLimits.from_json(body)
        except (ValueError, TypeError, AttributeError) as exc:
            return _error("invalid_limits", status=400, detail=str(exc))
        ws.set_limits(chosen)
    return JSONResponse({"ok": True, **ws.rate_limits.counts()})


async def state(request: Request) -> JSONResponse:
    """GET /_sandbox/state: the whole workspace as JSON."""
    return JSONResponse(request.app.state.workspace.snapshot())


def api_routes() -> list[Route]:
    """The Web API and sandbox-only routes, for composing with the page."""
    return [
        Route("/api/{method}", web_api, methods=["GET", "POST"]),
        Route("/_sandbox/state", state, methods=["GET"]),
        Route("/_sandbox/limits", limits, methods=["GET", "POST"]),
        Route("/_sandbox/response/{token}", respond, methods=["POST"]),
        *file_routes(),
    ]


def create_app(workspace: Workspace, *, extra_routes: list[Route] | None = None) -> Starlette:
    """The emulator as an ASGI app; `extra_routes` lets the page (or a later UI) join in."""
    # Extra routes come first so a richer handler (the page's /_sandbox/state) takes precedence.
    app = Starlette(routes=[*(extra_routes or []), *api_routes()])
    app.state.workspace = workspace
    return app
