"""Slack's file URLs on the emulator: `url_private(_download)` answer the bot token only; the
`permalink` is for the browser (the sandbox page is local, so it needs no login)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from sandbox.workspace import File, SlackError, Workspace


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


async def permalink(request: Request) -> Response:
    """GET /files/<user>/<file>/<name>: the file in the browser, shown or downloaded."""
    ws: Workspace = request.app.state.workspace
    f = _lookup(ws, request.path_params["file_id"])
    if f is None or f.user != request.path_params["user"]:
        return _not_found()
    return file_response(f)


def file_routes() -> list[Route]:
    """Where file objects' URLs point."""
    return [
        Route("/files-pri/{key}/{name}", url_private, methods=["GET"]),
        Route("/files-pri/{key}/download/{name}", url_private_download, methods=["GET"]),
        Route("/files/{user}/{file_id}/{name}", permalink, methods=["GET"]),
    ]


__all__ = ["file_response", "file_routes"]
