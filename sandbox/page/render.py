"""Shared helpers that turn Slack text and blocks into readable HTML or plain text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

# Applied to already-escaped text, so the patterns match the escaped angle brackets.
_LINK = re.compile(r"&lt;(https?://[^|&\s]*(?:&amp;[^|&\s]*)*)(?:\|(.*?))?&gt;")
_MENTION = re.compile(r"&lt;[@#]([UCW][A-Z0-9]+)(?:\|([^&]*))?&gt;")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)_(?![\w_])")
_CODE = re.compile(r"`([^`\n]+)`")
# <!date^1700000000^{date_short}|2023-11-14>: Slack shows a local date; the sandbox, the fallback.
_DATE = re.compile(r"&lt;!date\^\d+\^[^|&]*\|([^&]*)&gt;")
_RAW_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_RAW_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")


def plain_mrkdwn(text: str, names: dict[str, str] | None = None) -> str:
    """Dates as their fallback and user mentions as @name, for plain-text views."""
    names = names or {}
    text = _RAW_DATE.sub(lambda m: m[1], text)
    return _RAW_MENTION.sub(lambda m: "@" + names.get(m[1], m[2] or m[1]), text)


def mrkdwn_html(text: str | None, names: dict[str, str] | None = None) -> Markup:
    """Escape text, then render Slack's bold, italic, code, links and mentions minimally."""
    html = str(escape((text or "").replace("\x00", "")))
    names = names or {}
    # Links and code go into placeholders first so bold/italic never reach inside a URL.
    held: list[str] = []

    def hold(fragment: str) -> str:
        held.append(fragment)
        return f"\x00{len(held) - 1}\x00"

    html = _DATE.sub(lambda m: hold(f"<time>{m[1]}</time>"), html)
    html = _CODE.sub(lambda m: hold(f"<code>{m[1]}</code>"), html)
    html = _LINK.sub(lambda m: hold(f'<a href="{m[1]}">{m[2] or m[1]}</a>'), html)
    html = _MENTION.sub(lambda m: hold(f"@{escape(names.get(m[1], m[2] or m[1]))}"), html)
    html = _BOLD.sub(r"<b>\1</b>", html)
    html = _ITALIC.sub(r"<i>\1</i>", html)
    html = re.sub("\x00(\\d+)\x00", lambda m: held[int(m[1])], html)
    return Markup(html.replace("\n", "<br>"))


def text_of(obj: Any) -> str:
    """The string inside a text object (or the string itself)."""
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def element_label(el: dict[str, Any]) -> str:
    """A short label for an interactive element: its text, placeholder or type."""
    label = text_of(el.get("text")) or text_of(el.get("placeholder"))
    return label or str(el.get("type", "element"))


def compact_blocks(blocks: list[dict[str, Any]]) -> str:
    """One line of plain text for a list of blocks."""
    parts: list[str] = []
    for b in blocks:
        kind = b.get("type")
        if kind in ("header", "section"):
            if b.get("text"):
                parts.append(text_of(b["text"]))
            parts.extend(text_of(f) for f in b.get("fields") or [])
            if isinstance(b.get("accessory"), dict):
                parts.append(f"[{element_label(b['accessory'])}]")
        elif kind == "context":
            parts.extend(text_of(e) for e in b.get("elements") or [] if e.get("type") != "image")
        elif kind == "actions":
            parts.extend(f"[{element_label(e)}]" for e in b.get("elements") or [])
        elif kind == "image":
            parts.append(f"(image {b.get('image_url', '')})")
        elif kind == "input":
            parts.append(f"{text_of(b.get('label'))}: ___")
    return " | ".join(" ".join(p.split()) for p in parts if p)


def ts_time(ts: str) -> str:
    """HH:MM:SS (UTC) of a Slack ts."""
    return datetime.fromtimestamp(float(ts), UTC).strftime("%H:%M:%S")


def safe_url(url: Any) -> str:
    """The URL if it is http(s), else "#", so a javascript: link never reaches the page."""
    text = str(url or "")
    return text if text.startswith(("http://", "https://")) else "#"
