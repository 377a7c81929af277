"""Slack's file URLs on the emulator: `url_private(_download)` answer the bot token only; the
`permalink` is for the browser and shows a file only to whom Slack would (its uploader, anyone
once it is in a public channel, a member of a conversation it was shared in), the viewer being
the sandbox page's current person; the one-time upload URLs of files.getUploadURLExternal take
the raw bytes, with no token."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message

from sandbox.slack.records import MAX_FILE_BYTES, MAX_UPLOAD_BODY
from sandbox.slack.session import page_user
from sandbox.slack.workspace import File, SlackError, Workspace


def file_response(f: File, *, download: bool = False) -> Response:
    """The bytes with their Content-Type; never run as a page on the emulator's origin."""
    disposition = "attachment" if download else "inline"
    return Response(
        f.content,
        media_type=f.mimetype,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(f.name)}",
            "X-Content-Type-Options": "nosniff",
            # An uploaded HTML or SVG file must not script the page's endpoints.
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, no-cache",
        },
    )


def _not_found() -> Response:
    return PlainTextResponse("file_not_found", status_code=404)


def _refusal(request: Request, ws: Workspace) -> Response | None:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        return PlainTextResponse(
            "not_authed", status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    if auth[7:].strip() != ws.bot_token:
        return PlainTextResponse("invalid_auth", status_code=403)
    return None


def _lookup(ws: Workspace, file_id: str) -> File | None:
    try:
        return ws.file(file_id)
    except SlackError:
        return None


def _private(request: Request, *, download: bool) -> Response:
    ws: Workspace = request.app.state.workspace
    refusal = _refusal(request, ws)
    if refusal is not None:
        return refusal
    team, _, file_id = request.path_params["key"].partition("-")
    f = _lookup(ws, file_id) if team == ws.team_id else None
    if f is None:
        return _not_found()
    return file_response(f, download=download)


async def url_private(request: Request) -> Response:
    """GET /files-pri/<team>-<file>/<name>: for `Authorization: Bearer <bot token>` only."""
    return _private(request, download=False)


async def url_private_download(request: Request) -> Response:
    """GET /files-pri/<team>-<file>/download/<name>: the same, as an attachment."""
    return _private(request, download=True)


def _private_file_page(f: File) -> Response:
    name = escape(f.name)
    return HTMLResponse(
        f"<!doctype html><title>{name}</title><h1>{name} is private</h1>"
        "<p>This file is private to whoever uploaded it until it is shared in a conversation "
        "you are in.</p>",
        status_code=404,
        headers={"Cache-Control": "no-store"},
    )


async def permalink(request: Request) -> Response:
    """GET /files/<user>/<file>/<name>: the file in the browser, for the page's current person
    (`?user=U…` or the page's cookie) when they may see it; a 404 page otherwise."""
    ws: Workspace = request.app.state.workspace
    f = _lookup(ws, request.path_params["file_id"])
    if f is None or f.user != request.path_params["user"]:
        return _not_found()
    if not ws.may_see_file(f.id, page_user(ws, request)):
        return _private_file_page(f)
    return file_response(f)


def _too_large() -> Response:
    return PlainTextResponse("file_too_large", status_code=413)


async def _capped_body(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_UPLOAD_BODY (a chunked body is never read further)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_UPLOAD_BODY:
            return None
    return bytes(body)


async def _file_part(request: Request, body: bytes) -> bytes | None:
    """The one file part of a multipart body, or None when there is none."""

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async with Request(request.scope, replay).form(max_files=1, max_fields=10) as form:
        part = next((v for v in form.values() if isinstance(v, UploadFile)), None)
        return None if part is None else await part.read(MAX_FILE_BYTES + 1)


async def upload(request: Request) -> Response:
    """POST /_upload/v1/<token>: the bytes of a reserved upload, raw (as slack_sdk sends them)
    or as one multipart file part; the URL works once. Answers `OK - <bytes>` like Slack."""
    ws: Workspace = request.app.state.workspace
    token = request.path_params["token"]
    if ws.open_upload(token) is None:
        return PlainTextResponse("Not Found", status_code=404)
    try:
        if int(request.headers.get("content-length") or 0) > MAX_UPLOAD_BODY:
            return _too_large()
    except ValueError:
        return PlainTextResponse("invalid Content-Length", status_code=400)
    content = await _capped_body(request)
    if content is not None and request.headers.get("content-type", "").startswith("multipart/"):
        try:
            content = await _file_part(request, content)
        except HTTPException as exc:
            return PlainTextResponse(f"invalid multipart body: {exc.detail}", status_code=400)
        if content is None:
            return PlainTextResponse("no file part", status_code=400)
    if content is None or len(content) > MAX_FILE_BYTES:
        return _too_large()
    if ws.receive_upload(token, content) is None:  # another request used it meanwhile
        return PlainTextResponse("Not Found", status_code=404)
    return PlainTextResponse(f"OK - {len(content)}")


def file_routes() -> list[Route]:
    """Where file objects' URLs and upload URLs point."""
    return [
        Route("/files-pri/{key}/{name}", url_private, methods=["GET"]),
        Route("/files-pri/{key}/download/{name}", url_private_download, methods=["GET"]),
        Route("/files/{user}/{file_id}/{name}", permalink, methods=["GET"]),
        Route("/_upload/v1/{token}", upload, methods=["POST"]),
    ]


__all__ = ["file_response", "file_routes"]
