"""Who the browser is signed in as: the person the sandbox page acts as, and so the person who
opens a file's permalink (Slack knows them by its session cookie; the sandbox by its own)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from sandbox.slack.workspace import Workspace

DEFAULT_USER = "U0MANAGER1"
USER_COOKIE = "sandbox_user"


def _is_human(ws: Workspace, user: str) -> bool:
    u = ws.users.get(user)
    return u is not None and not u.is_bot


def page_user(ws: Workspace, request: Request, params: dict[str, Any] | None = None) -> str:
    """Who the page is acting as: `user` in the params or query, the page's cookie, or the
    default person."""
    wanted = (params or {}).get("user") or request.query_params.get("user")
    wanted = wanted or request.cookies.get(USER_COOKIE) or DEFAULT_USER
    return wanted if _is_human(ws, wanted) else DEFAULT_USER
