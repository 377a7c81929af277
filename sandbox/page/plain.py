"""Server-rendered HTML of the workspace: the plain view of every channel (refreshed every 2 s),
and the first screen of the interactive page, so a channel or a thread reads without JS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from sandbox.page.emoji import emoji_html
from sandbox.page.render import element_label, mrkdwn_html, safe_url, text_of, ts_time
from sandbox.slack.workspace import Workspace

TEMPLATES = Path(__file__).parent / "templates"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _helpers(snap_users: list[dict[str, Any]], channels: dict[str, str]) -> dict[str, Any]:
    """What message.html needs: names, the mrkdwn renderer and small formatters."""
    names = {u["id"]: u["real_name"] for u in snap_users}

    def md(obj: Any) -> Markup:
        # plain_text objects are shown literally (emoji aside); mrkdwn gets the formatting.
        if isinstance(obj, dict) and obj.get("type") == "plain_text":
            return emoji_html(str(Markup.escape(text_of(obj))))
        return mrkdwn_html(text_of(obj), names, channels)

    return {"names": names, "md": md, "label": element_label, "time": ts_time, "url": safe_url}


def render_page(workspace: Workspace) -> str:
    """The whole workspace as one HTML page."""
    snap = workspace.snapshot()
    channel_names = {c["id"]: c["name"] for c in snap["channels"]}

    def bot_authored(eph: dict[str, Any]) -> dict[str, Any]:
        return {**eph, "user": snap["bot_user_id"]}

    template = _env.get_template("page.html")
    return template.render(
        channels=snap["channels"],
        ephemerals=snap["ephemerals"],
        channel_names=channel_names,
        bot_authored=bot_authored,
        **_helpers(snap["users"], channel_names),
    )


def render_workspace(state: dict[str, Any], initial_state: str) -> str:
    """The interactive page for one person's `state` (sandbox/page/routes.py ui_state), with its
    channel and open thread already in the HTML; `initial_state` is that state as script JSON
    (`state["linked"]`: the ts of the message a permalink points at)."""
    channel_names = {c["id"]: c["name"] for c in state["channels"]}
    template = _env.get_template("workspace.html")
    return template.render(
        state=state,
        initial_state=Markup(initial_state),
        channel_name=channel_names.get(state["channel"], "Dispute Desk"),
        linked=state.get("linked"),
        **_helpers(state["users"], channel_names),
    )


async def page(request: Request) -> HTMLResponse:
    """GET /"""
    return HTMLResponse(render_page(request.app.state.workspace))


def page_routes() -> list[Route]:
    """The browser view's routes."""
    return [Route("/", page, methods=["GET"])]


__all__ = ["page_routes", "render_page", "render_workspace"]
