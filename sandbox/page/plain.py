"""GET /: a plain server-rendered HTML view of the sandbox workspace, refreshed every 2 s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from sandbox.page.render import element_label, mrkdwn_html, safe_url, text_of, ts_time
from sandbox.slack.workspace import Workspace

TEMPLATES = Path(__file__).parent / "templates"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_page(workspace: Workspace) -> str:
    """The whole workspace as one HTML page."""
    snap = workspace.snapshot()
    names = {u["id"]: u["real_name"] for u in snap["users"]}

    def md(obj: Any) -> Markup:
        # plain_text objects are shown literally; mrkdwn gets the minimal formatting.
        if isinstance(obj, dict) and obj.get("type") == "plain_text":
            return Markup.escape(text_of(obj))
        return mrkdwn_html(text_of(obj), names)

    def bot_authored(eph: dict[str, Any]) -> dict[str, Any]:
        return {**eph, "user": snap["bot_user_id"]}

    template = _env.get_template("page.html")
    return template.render(
        channels=snap["channels"],
        ephemerals=snap["ephemerals"],
        names=names,
        channel_names={c["id"]: c["name"] for c in snap["channels"]},
        md=md,
        label=element_label,
        time=ts_time,
        url=safe_url,
        bot_authored=bot_authored,
    )


async def page(request: Request) -> HTMLResponse:
    """GET /"""
    return HTMLResponse(render_page(request.app.state.workspace))


def page_routes() -> list[Route]:
    """The browser view's routes."""
    return [Route("/", page, methods=["GET"])]


__all__ = ["page_routes", "render_page"]
