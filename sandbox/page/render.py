"""Shared helpers that turn Slack text and blocks into readable HTML or plain text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from sandbox.page.emoji import emoji_html

# Applied to already-escaped text, so the patterns match the escaped angle brackets: only a raw
# "<" of the message becomes "&lt;" there, while the message's own "&lt;" became "&amp;lt;".
_LINK = re.compile(r"&lt;((?:https?://|mailto:)[^|\s]*?)(?:\|(.*?))?&gt;")
_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]+)(?:\|(.*?))?&gt;")
_CHANNEL = re.compile(r"&lt;#(C[A-Z0-9]+)(?:\|(.*?))?&gt;")
_SPECIAL = re.compile(r"&lt;!(here|channel|everyone)(?:\|.*?)?&gt;")
_SUBTEAM = re.compile(r"&lt;!subteam\^([A-Z0-9]+)(?:\|(.*?))?&gt;")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)~(?![\w~])")
_CODE = re.compile(r"`([^`\n]+)`")
# <!date^1700000000^{date_short}|2023-11-14>: Slack shows a local date; the sandbox, the fallback.
_DATE = re.compile(r"&lt;!date\^\d+\^[^|&]*(?:\^[^|&]*)?\|(.*?)&gt;")
_RAW_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_RAW_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_RAW_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
# Slack escapes only these three in message text; each is decoded once.
_ESCAPED_ENTITY = re.compile(r"&amp;(lt|gt|amp);")
_ENTITY = re.compile(r"&(lt|gt|amp);")
_CHARS = {"lt": "<", "gt": ">", "amp": "&"}


def slack_unescape(text: str) -> str:
    """Slack's escaped text (`&lt;`, `&gt;`, `&amp;`) as the characters it stands for."""
    return _ENTITY.sub(lambda m: _CHARS[m[1]], text)


def slack_escape(text: str) -> str:
    """Text a person typed, escaped as Slack stores it in a message."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _decoded(html: str) -> str:
    # In HTML-escaped text a Slack entity reads "&amp;lt;": one decoding leaves "&lt;", which
    # the browser shows as "<" (and "&amp;amp;lt;" leaves "&amp;lt;", shown as "&lt;").
    return _ESCAPED_ENTITY.sub(lambda m: f"&{m[1]};", html)


def plain_mrkdwn(text: str, names: dict[str, str] | None = None) -> str:
    """Dates as their fallback, user mentions as @name and entities decoded, for plain text."""
    names = names or {}
    text = _RAW_DATE.sub(lambda m: m[1], text)
    text = _RAW_SPECIAL.sub(lambda m: "@" + m[1], text)
    text = _RAW_MENTION.sub(lambda m: "@" + names.get(m[1], m[2] or m[1]), text)
    return slack_unescape(text)


def mrkdwn_html(
    text: str | None,
    names: dict[str, str] | None = None,
    channels: dict[str, str] | None = None,
) -> Markup:
    """Slack's mrkdwn as HTML: its control sequences (links, mentions, dates) rendered, its
    entities decoded once, everything else escaped; bold, italic, strike, code and emoji."""
    html = str(escape((text or "").replace("\x00", "")))
    names = names or {}
    channels = channels or {}
    # Links and code go into placeholders first so bold/italic never reach inside a URL.
    held: list[str] = []

    def hold(fragment: str) -> str:
        held.append(fragment)
        return f"\x00{len(held) - 1}\x00"

    def mention(sigil: str, known: dict[str, str], m: re.Match[str]) -> str:
        # A name the workspace knows, else the label the sequence carries, else the id.
        label = str(escape(known[m[1]])) if m[1] in known else _decoded(m[2] or m[1])
        return hold(f'<span class="mention">{sigil}{label}</span>')

    html = _DATE.sub(lambda m: hold(f"<time>{_decoded(m[1])}</time>"), html)
    html = _CODE.sub(lambda m: hold(f"<code>{_decoded(m[1])}</code>"), html)
    html = _LINK.sub(
        lambda m: hold(f'<a href="{_decoded(m[1])}">{_decoded(m[2] or m[1])}</a>'), html
    )
    html = _MENTION.sub(lambda m: mention("@", names, m), html)
    html = _CHANNEL.sub(lambda m: mention("#", channels, m), html)
    html = _SUBTEAM.sub(lambda m: mention("" if m[2] else "@", {}, m), html)
    html = _SPECIAL.sub(lambda m: hold(f'<span class="mention">@{m[1]}</span>'), html)
    html = _BOLD.sub(r"<b>\1</b>", html)
    html = _ITALIC.sub(r"<i>\1</i>", html)
    html = _STRIKE.sub(r"<s>\1</s>", html)
    html = str(emoji_html(_decoded(html)))
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
