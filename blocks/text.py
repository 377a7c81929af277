"""Small text helpers shared by the block builders.

Text from outside (a customer, an order system, a file name, a person) reaches a Slack text
field only through `escape` (or a helper built on it: `inline`, `quote`, `link`, and
`blocks.kit`'s `plain` and `header`), so it can never mention, link or format as if the app
had written it. The app's own tokens (`user`, `date`, `link`) are added around escaped text,
never inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

QUOTE_MAX = 2800  # a quote and a line or two around it fit a 3000-character section
MAX_URL = 1000
ELLIPSIS = "…"

# What clipping escaped mrkdwn must never cut in half: an entity, or a <…> token of the app's
# own (a mention, a date, a link).
_TOKEN = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);|<[^<>]*>")
_LINK_SCHEMES = ("http", "https")
_URL_SPECIALS = {"|": "%7C", "<": "%3C", ">": "%3E"}


@dataclass(frozen=True, slots=True)
class Message:
    """A Slack message: fallback text for notifications plus its blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def escape(text: object) -> str:
    """Escape the three characters mrkdwn treats as control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Raw text (not yet escaped) cut to `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def clip_escaped(text: str, limit: int) -> str:
    """Escaped text or mrkdwn cut to `limit` characters: a cut that would fall inside an
    entity (`&amp;`) or a token (`<@U1>`, `<!date^…>`, `<url|label>`) backs off to its start."""
    if len(text) <= limit:
        return text
    cut = max(limit - 1, 0)
    for match in _TOKEN.finditer(text):
        if match.start() >= cut:
            break
        if match.end() > cut:
            cut = match.start()
            break
    return text[:cut] + ELLIPSIS


def one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def inline(text: object, limit: int = 3000) -> str:
    """Outside text shown within a line: escaped, its line breaks made spaces, clipped."""
    return clip_escaped(escape(one_line(str(text))), limit)


def quote(text: object, limit: int = QUOTE_MAX) -> str:
    """Outside text as a mrkdwn quote: escaped, clipped to `limit` characters in all, and
    every line (not only the first) starting with `> `."""
    lines = escape(text).splitlines() or [""]
    quoted = "\n".join(f"> {line}" for line in lines)
    if len(quoted) <= limit:
        return quoted
    cut = clip_escaped(quoted, limit)
    head, _, last = cut.rpartition("\n")
    if last.startswith("> "):
        return cut
    return head + ELLIPSIS if head else "> " + ELLIPSIS


def labelled(label: str, text: object, limit: int = QUOTE_MAX) -> str:
    """`label` (mrkdwn of the app's own) then outside text: on the same line when the text is
    one line, else quoted below it, so its second line never reads as the app's words."""
    raw = str(text).strip()
    if len(raw.splitlines()) <= 1:
        return f"{label} {inline(raw, max(limit - len(label) - 1, 1))}"
    return f"{label}\n{quote(raw, max(limit - len(label) - 1, 3))}"


def safe_url(url: object) -> str | None:
    """The URL as it may stand inside `<…|…>`, or None when it must not become a link: only
    absolute http(s) URLs without spaces or control characters, `|`, `<` and `>` encoded."""
    text = str(url or "").strip()
    if not text or len(text) > MAX_URL or any(c.isspace() or not c.isprintable() for c in text):
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in _LINK_SCHEMES or not parts.netloc:
        return None
    for char, code in _URL_SPECIALS.items():
        text = text.replace(char, code)
    return escape(text)


def link(url: object, label: str) -> str:
    """A link labelled `label` to an http(s) URL; any other URL is shown as text, not a link."""
    safe = safe_url(url)
    if safe is None:
        shown = inline(url or "", 200)
        return f"{inline(label, 200)} ({shown})" if shown else inline(label, 200)
    return f"<{safe}|{inline(label, 200)}>"


def date(value: datetime | str | None, *, with_time: bool = False) -> str:
    """A date Slack shows in the viewer's own timezone, with a UTC fallback."""
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return inline(value, 40)
    token = "{date_short} {time}" if with_time else "{date_short}"
    fallback = value.strftime("%Y-%m-%d %H:%M UTC" if with_time else "%Y-%m-%d")
    return f"<!date^{int(value.timestamp())}^{token}|{fallback}>"


def user(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "nobody"
