"""A short plain-text transcript of the sandbox workspace, for logs and test failures."""

from __future__ import annotations

from typing import Any

from sandbox.page.render import compact_blocks, plain_mrkdwn, ts_time
from sandbox.slack.workspace import Workspace

LINE_CHARS = 160


def _line(msg: dict[str, Any], names: dict[str, str], indent: str) -> str:
    body = msg.get("text") or ""
    if msg.get("blocks"):
        body = compact_blocks(msg["blocks"]) or body
    body = " ".join(plain_mrkdwn(body, names).split())
    body = " ".join([body, *(f"[file: {f['name']}]" for f in msg.get("files") or [])]).strip()
    if len(body) > LINE_CHARS:
        body = body[: LINE_CHARS - 1] + "…"
    author = names.get(msg["user"], msg["user"])
    return f"{indent}{ts_time(msg['ts'])} {author}: {body}"


def render_transcript(workspace: Workspace) -> str:
    """Every channel with its messages and thread replies, then ephemerals; one line each."""
    snap = workspace.snapshot()
    names = {u["id"]: u["real_name"] for u in snap["users"]}
    lines: list[str] = []
    for ch in snap["channels"]:
        lines.append(f"#{ch['name']} ({ch['id']})")
        for msg in ch["messages"]:
            lines.append(_line(msg, names, "  "))
            lines.extend(_line(r, names, "    ↳ ") for r in msg["thread"])
    if snap["ephemerals"]:
        lines.append("ephemeral")
        for e in snap["ephemerals"]:
            who = names.get(e["user"], e["user"])
            lines.append(_line({**e, "user": snap["bot_user_id"]}, names, f"  to {who}: "))
    return "\n".join(lines) + "\n"
