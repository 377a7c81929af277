"""The interactive workspace page: GET / plus the /_sandbox/ui/* and event-stream endpoints.

The page is plain JS (templates/workspace.js) over JSON, with its first screen already in the
HTML, so a channel, or a thread opened by a permalink (`/archives/<channel>/p<ts>`), reads
without JS. `GET /_sandbox/state?user=U…` answers the workspace as that person sees it (one
channel's latest messages, an open thread, their ephemeral messages, their top modal with its
field errors); `GET /_sandbox/events` streams a `changed` event whenever the workspace's version
moves. What a person does goes through the `SlackDriver` the emulator was handed
(`EmulatorServer.attach_driver`), so the app gets exactly what Slack sends: messages and thread
replies (`/_sandbox/ui/message`), slash commands, clicks, submissions, and files, which go up as
multipart to `/_sandbox/ui/upload`, shared in a thread or kept for a modal.
"""

from __future__ import annotations

import asyncio
import json
import re
from html import escape
from pathlib import Path
from typing import Any, NamedTuple

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from sandbox.page.emoji import emoji_svg, known_emoji
from sandbox.page.plain import render_page, render_workspace
from sandbox.slack.records import MAX_FILE_BYTES, MAX_UPLOAD_BODY
from sandbox.slack.session import USER_COOKIE, page_user
from sandbox.slack.workspace import SlackError, Workspace

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_CHANNEL = "C0DISPUTES"
PAGE_SIZE = 200
# An event stream ends after this long (the browser reconnects) so shutdown never waits on it.
STREAM_LIFETIME_S = 15.0
STREAM_POLL_S = 0.1
TOO_LARGE = f"Files are limited to {MAX_FILE_BYTES // 2**20} MB."


def ui_state(
    ws: Workspace,
    user: str,
    channel: str | None = None,
    *,
    limit: int = PAGE_SIZE,
    thread: str | None = None,
) -> dict[str, Any]:
    """What `user` sees: the channel list, the latest `limit` messages of one channel (and their
    own ephemeral messages there), the open thread, and their top modal with its errors."""
    with ws.lock:
        dm = ws.dm_channel(user)
        ch = ws.channel(channel or DEFAULT_CHANNEL)
        if ws.is_dm(ch.id) and ch.id != dm.id:
            ch = dm  # someone else's DM: show this person's own
        history = ws.history(ch.id)
        window = history[-limit:] if limit > 0 else history
        oldest = float(window[0].ts) if window and len(window) < len(history) else 0.0
        items = [m.to_slack(ws) for m in window]
        for e in ws.ephemerals_for(user, ch.id):
            if e.thread_ts is None and float(e.ts) >= oldest:
                items.append(_ephemeral(ws, e))
        items.sort(key=lambda m: float(m["ts"]))
        thread_out = None
        if thread:
            try:
                msgs = ws.thread(ch.id, thread)
            except SlackError:
                msgs = []
            if msgs:
                root = msgs[0].ts
                replies = [m.to_slack(ws) for m in msgs]
                replies += [
                    _ephemeral(ws, e) for e in ws.ephemerals_for(user, ch.id) if e.thread_ts == root
                ]
                replies.sort(key=lambda m: float(m["ts"]))
                thread_out = {"ts": root, "messages": replies}
        top = ws.top_view(user)
        view = None
        if top is not None:
            view = top.to_slack() | {"errors": dict(top.errors)}
        home = ws.home_views.get(user)
        return {
            "version": ws.version,
            "me": user,
            "bot_user_id": ws.bot_user_id,
            "users": [
                {"id": u.id, "name": u.name, "real_name": u.real_name, "is_bot": u.is_bot}
                for u in ws.users.values()
            ],
            "channels": [
                {"id": c.id, "name": c.name, "member": user in c.members}
                for c in ws.channels.values()
                if not ws.is_dm(c.id)
            ],
            "dm": dm.id,
            "channel": ch.id,
            "is_dm": ch.id == dm.id,
            "messages": items,
            "has_more": len(window) < len(history),
            "total": len(history),
            "thread": thread_out,
            "view": view,
            "home": home.to_slack() if home is not None else None,
        }


def _ephemeral(ws: Workspace, e: Any) -> dict[str, Any]:
    out = e.to_slack()
    out.update(type="message", user=ws.bot_user_id, ephemeral=True)
    if e.thread_ts is None:
        out.pop("thread_ts", None)
    return out


def _json_for_script(data: Any) -> str:
    # Safe inside <script type="application/json">: no "</script>" or "<!--" can appear.
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


async def page(request: Request) -> HTMLResponse:
    """GET /: the workspace page, with the first state inlined so it shows at once."""
    ws: Workspace = request.app.state.workspace
    user = page_user(ws, request)
    try:
        state = ui_state(ws, user, request.query_params.get("channel"))
    except SlackError:
        state = ui_state(ws, user)
    response = _workspace_page(state)
    if request.query_params.get("user") == user:
        # Whoever the page is opened as stays that person in the tabs its links open.
        response.set_cookie(USER_COOKIE, user, path="/", samesite="lax")
    return response


def _workspace_page(state: dict[str, Any], linked: str | None = None) -> HTMLResponse:
    # The first state, inlined, also says which emoji have pictures and what a permalink chose.
    first = state | {"emoji": known_emoji(), "linked": linked}
    return HTMLResponse(render_workspace(first, _json_for_script(first)))


# A Slack message permalink names its message by the ts without its dot.
_PERMALINK_TS = re.compile(r"(\d{1,10})(\d{6})")


def _not_found_page(what: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>Not found · Dispute Desk sandbox</title>"
        f"<h1>Not found</h1><p>{escape(what)}</p>"
        '<p><a href="/">Back to the workspace</a></p>',
        status_code=404,
        headers={"Cache-Control": "no-store"},
    )


async def permalink(request: Request) -> HTMLResponse:
    """GET /archives/<channel>/p<ts digits>[?thread_ts=…]: the page on that channel with the
    message's thread open (a reply's link names its thread), as chat.getPermalink's links
    open on Slack; a 404 page when the viewer has no such channel or message."""
    ws: Workspace = request.app.state.workspace
    user = page_user(ws, request)
    channel_id = request.path_params["channel"]
    digits = _PERMALINK_TS.fullmatch(request.path_params["digits"])
    with ws.lock:
        channel = ws.channels.get(channel_id)
        if channel is None or (ws.is_dm(channel.id) and channel.id != ws.dm_channel(user).id):
            return _not_found_page(f"There is no channel {channel_id} in this workspace.")
        msg = ws.message(channel.id, f"{digits[1]}.{digits[2]}") if digits else None
        if msg is None:
            return _not_found_page(f"That message is not in #{channel.name}: it may be deleted.")
        thread = msg.thread_ts if msg.is_reply else msg.ts
        state = ui_state(ws, user, channel.id, thread=thread)
    return _workspace_page(state, linked=msg.ts)


async def plain_page(request: Request) -> HTMLResponse:
    """GET /_sandbox/plain: the read-only, no-JS view of every channel."""
    return HTMLResponse(render_page(request.app.state.workspace))


_ASSETS = {"workspace.js": "text/javascript", "workspace.css": "text/css"}


async def asset(request: Request) -> Response:
    """GET /_sandbox/assets/<name>"""
    name = request.path_params["name"]
    if name not in _ASSETS:
        return Response("not found", status_code=404)
    return Response(
        (TEMPLATES / name).read_text(),
        media_type=_ASSETS[name],
        headers={"Cache-Control": "no-cache"},
    )


async def emoji(request: Request) -> Response:
    """GET /_sandbox/emoji/<name>.svg: the picture the page shows for `:name:`."""
    svg = emoji_svg(request.path_params["name"])
    if svg is None:
        return Response("not found", status_code=404)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})


async def state(request: Request) -> JSONResponse:
    """GET /_sandbox/state: everything (no `user`), or what one person sees (`user=U…`,
    optional `channel`, `limit`, `thread`)."""
    ws: Workspace = request.app.state.workspace
    q = request.query_params
    if not q.get("user"):
        return JSONResponse(ws.snapshot())
    try:
        limit = int(q.get("limit") or PAGE_SIZE)
        return JSONResponse(
            ui_state(
                ws, page_user(ws, request), q.get("channel"), limit=limit, thread=q.get("thread")
            )
        )
    except SlackError as exc:
        return JSONResponse({"ok": False, "error": exc.error}, status_code=404)
    except ValueError:
        return JSONResponse({"ok": False, "error": "invalid_arguments"}, status_code=400)


async def events(request: Request) -> StreamingResponse:
    """GET /_sandbox/events: server-sent `changed` events carrying the workspace version."""
    ws: Workspace = request.app.state.workspace
    app_state = request.app.state

    async def stream():
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_LIFETIME_S
        last = -1
        yield "retry: 300\n\n"
        while loop.time() < deadline and not getattr(app_state, "closing", False):
            if ws.version != last:
                last = ws.version
                yield f"event: changed\ndata: {last}\n\n"
            await asyncio.sleep(STREAM_POLL_S)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# -- what a person does -------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise SlackError("invalid_payload")
    return data


def _driver(request: Request) -> Any:
    driver = getattr(request.app.state, "driver", None)
    if driver is None:
        raise SlackError("no_app", detail="no app is connected to this sandbox")
    return driver


def _fail(exc: Exception, status: int = 400) -> JSONResponse:
    if isinstance(exc, SlackError):
        return JSONResponse({"ok": False, "error": exc.error, **exc.extra}, status_code=status)
    return JSONResponse({"ok": False, "error": "failed", "detail": str(exc)}, status_code=status)


def _response_body(response: Any) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


async def ui_command(request: Request) -> JSONResponse:
    """POST /_sandbox/ui/command {user, channel, text}: `/dispute …` signed as Slack signs it.
    The ack body is what Slack shows the user as an ephemeral message, so it is kept as one.
    Text without a leading `/` is a message (`/_sandbox/ui/message`), never a command."""
    ws: Workspace = request.app.state.workspace
    try:
        data = await _body(request)
        user = page_user(ws, request, data)
        channel = ws.channel(str(data.get("channel") or DEFAULT_CHANNEL))
        text = str(data.get("text") or "").strip()
        command, _, rest = text.partition(" ")
        if len(command) < 2 or not command.startswith("/"):
            raise SlackError("not_a_command", detail="a slash command starts with /")
        token = ws.mint_response_url(channel.id, user, awaiting_ack=True)
        response = await _driver(request).command(
            rest.strip(), user=user, channel=channel.id, command=command, response_url=token
        )
    except (SlackError, LookupError) as exc:
        return _fail(exc)
    body = _response_body(response)
    if response.status_code != 200:
        ws.post_ephemeral(
            channel.id,
            user,
            text=f'{command} failed with the error "dispatch_failed" (HTTP {response.status_code})',
            via="ack",
        )
    else:
        message = body if isinstance(body, dict) else {"text": str(body or "")}
        text_out = str(message.get("text") or "")
        listed = message.get("blocks")
        blocks = [b for b in listed if isinstance(b, dict)] if isinstance(listed, list) else []
        if message.get("response_type") == "in_channel":
            ws.post_message(channel.id, text=text_out, blocks=blocks)
        else:

            def show(text: str, blocks: list[Any]) -> str:
                return ws.post_ephemeral(channel.id, user, text=text, blocks=blocks, via="ack").ts

            ws.show_ack(token, text_out, blocks, show)
    return JSONResponse(
        {"ok": response.status_code == 200, "status": response.status_code, "ack": body}
    )


async def ui_message(request: Request) -> JSONResponse:
    """POST /_sandbox/ui/message {user, channel, text, thread_ts}: the person sends a message
    (a thread reply with `thread_ts`); it is stored as theirs and, when the bot is in the
    channel, the app gets its `message` event. Answers {ok, channel, ts, status}."""
    ws: Workspace = request.app.state.workspace
    try:
        data = await _body(request)
        user = page_user(ws, request, data)
        text = str(data.get("text") or "").strip()
        if not text:
            raise SlackError("no_text", detail="type a message first")
        channel = ws.channel(str(data.get("channel") or DEFAULT_CHANNEL))
        if user not in channel.members:  # Slack offers "Join channel" instead of a composer
            raise SlackError("not_in_channel", detail="join the channel to write in it")
        posted = await _driver(request).post_message(
            channel.id,
            user,
            text,
            thread_ts=str(data.get("thread_ts") or "") or None,
        )
    except SlackError as exc:
        return _fail(exc)
    response = posted.response
    return JSONResponse(
        {
            "ok": response is None or response.status_code == 200,
            "channel": posted.message.channel,
            "ts": posted.message.ts,
            "status": response.status_code if response is not None else None,
        }
    )


async def ui_action(request: Request) -> JSONResponse:
    """POST /_sandbox/ui/action {user, channel, message_ts | view_id, action_id, block_id,
    value, selected}: a click as a real `block_actions` payload."""
    ws: Workspace = request.app.state.workspace
    try:
        data = await _body(request)
        user = page_user(ws, request, data)
        response = await _driver(request).block_action(
            str(data["action_id"]),
            user=user,
            channel=str(data.get("channel") or DEFAULT_CHANNEL),
            message_ts=data.get("message_ts") or None,
            view_id=data.get("view_id") or None,
            value=data.get("value"),
            selected=data.get("selected"),
            block_id=data.get("block_id"),
        )
    except (SlackError, LookupError, KeyError) as exc:
        return _fail(exc)
    return JSONResponse({"ok": response.status_code == 200, "status": response.status_code})


async def ui_submit(request: Request) -> JSONResponse:
    """POST /_sandbox/ui/submit {user, view_id, values}: a `view_submission`; the driver applies
    the app's response_action (errors are kept on the view for the page)."""
    ws: Workspace = request.app.state.workspace
    try:
        data = await _body(request)
        user = page_user(ws, request, data)
        response = await _driver(request).view_submission(
            data.get("values") or {}, user=user, view_id=data.get("view_id") or None
        )
    except (SlackError, LookupError) as exc:
        return _fail(exc)
    body = _response_body(response)
    return JSONResponse(
        {
            "ok": response.status_code == 200,
            "status": response.status_code,
            "response_action": body.get("response_action") if isinstance(body, dict) else None,
            "errors": body.get("errors") if isinstance(body, dict) else None,
        }
    )


class UploadedFile(NamedTuple):
    """A file as the browser sent it."""

    name: str
    mimetype: str
    content: bytes


def _too_large() -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error": "file_too_large", "detail": TOO_LARGE}, status_code=413
    )


def _declared_size(request: Request) -> int:
    try:
        return int(request.headers.get("content-length") or 0)
    except ValueError:
        return 0


async def _read_upload(request: Request) -> tuple[UploadedFile, dict[str, str]]:
    """The one file of a multipart body (read up to one byte past the limit) and its fields."""
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise SlackError("no_file", detail="choose a file to upload")
        # One byte over the limit is enough for the workspace to refuse it.
        content = await upload.read(MAX_FILE_BYTES + 1)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return UploadedFile(upload.filename or "file", upload.content_type or "", content), fields


async def ui_upload(request: Request) -> JSONResponse:
    """POST /_sandbox/ui/upload (multipart: file, user, and channel, thread_ts, text to share it):
    with a channel the person drops the file there (a `file_share` message, and its event to
    the app); without one the file is only kept, as a modal's file_input keeps it, and its id
    goes into the submission. Answers {ok, file} (+ channel, ts, status when shared)."""
    ws: Workspace = request.app.state.workspace
    if _declared_size(request) > MAX_UPLOAD_BODY:
        return _too_large()
    try:
        upload, fields = await _read_upload(request)
        user = page_user(ws, request, fields)
        if fields.get("channel"):
            return await _share_upload(request, upload, fields, user)
        f = ws.add_file(upload.name, upload.content, user=user, mimetype=upload.mimetype)
        return JSONResponse({"ok": True, "file": f.to_slack(ws.base_url)})
    except SlackError as exc:
        return _too_large() if exc.error == "file_too_large" else _fail(exc)
    except HTTPException as exc:  # a malformed multipart body
        return JSONResponse(
            {"ok": False, "error": "invalid_form", "detail": exc.detail}, status_code=400
        )


async def _share_upload(
    request: Request, upload: UploadedFile, fields: dict[str, str], user: str
) -> JSONResponse:
    shared = await _driver(request).share_file(
        fields["channel"],
        user,
        upload.name,
        upload.content,
        upload.mimetype,
        thread_ts=fields.get("thread_ts") or None,
        text=fields.get("text", "").strip(),
    )
    return JSONResponse(
        {
            "ok": True,
            "file": shared.file.to_slack(request.app.state.workspace.base_url),
            "channel": shared.message.channel,
            "ts": shared.message.ts,
            "status": shared.response.status_code if shared.response is not None else None,
        }
    )


async def ui_home(request: Request) -> JSONResponse:
    """POST /_sandbox/ui/home {user}: the person opened the app's Home tab, so the app gets
    `app_home_opened` (with the view it published before, as Slack sends it); the view it
    publishes then arrives through the event stream."""
    ws: Workspace = request.app.state.workspace
    try:
        data = await _body(request)
        user = page_user(ws, request, data)
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": ws.dm_channel(user).id,
            "tab": "home",
        }
        if (home := ws.home_views.get(user)) is not None:
            event["view"] = home.to_slack()
        response = await _driver(request).event(event)
    except SlackError as exc:
        return _fail(exc)
    return JSONResponse({"ok": response.status_code == 200, "status": response.status_code})


async def ui_close(request: Request) -> JSONResponse:
    """POST /_sandbox/ui/close {user, view_id}: the modal's Close button (pops that view)."""
    ws: Workspace = request.app.state.workspace
    try:
        data = await _body(request)
        ws.close_view(str(data["view_id"]))
    except (SlackError, KeyError) as exc:
        return _fail(exc)
    return JSONResponse({"ok": True})


def web_routes() -> list[Route]:
    """The page, its assets and the endpoints it calls."""
    return [
        Route("/", page, methods=["GET"]),
        Route("/archives/{channel}/p{digits}", permalink, methods=["GET"]),
        Route("/_sandbox/emoji/{name}.svg", emoji, methods=["GET"]),
        Route("/_sandbox/plain", plain_page, methods=["GET"]),
        Route("/_sandbox/assets/{name}", asset, methods=["GET"]),
        Route("/_sandbox/state", state, methods=["GET"]),
        Route("/_sandbox/events", events, methods=["GET"]),
        Route("/_sandbox/ui/command", ui_command, methods=["POST"]),
        Route("/_sandbox/ui/message", ui_message, methods=["POST"]),
        Route("/_sandbox/ui/action", ui_action, methods=["POST"]),
        Route("/_sandbox/ui/submit", ui_submit, methods=["POST"]),
        Route("/_sandbox/ui/close", ui_close, methods=["POST"]),
        Route("/_sandbox/ui/home", ui_home, methods=["POST"]),
        Route("/_sandbox/ui/upload", ui_upload, methods=["POST"]),
    ]


__all__ = ["ui_state", "web_routes"]
