"""The customer's side of the sandbox: an inbox page with the mail the app sent through the
demo's SMTP sink (links made clickable), and a form that replies as the customer through the
app's signed inbound path."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.world.reply_signing import signed_reply_headers

_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"
NO_MAILBOX = "No mailbox: run <code>dispute-desk demo</code>"
REPLY_NOTE = "Start the demo to reply as the customer: replies reach the app signed."


def _field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _sort_key(when: datetime | None) -> float:
    if when is None:
        return float("-inf")
    if when.tzinfo is None:
        when = when.astimezone()  # a naive time is local, as the sink stamps it
    return when.timestamp()


def linkify(text: str) -> str:
    """Plain text as HTML: everything escaped, http(s) links clickable."""
    out, last = [], 0
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(_TRAILING)
        end = m.start() + len(url)
        out.append(html.escape(text[last : m.start()]))
        href = html.escape(url, quote=True)
        out.append(f'<a href="{href}" target="_blank" rel="noopener noreferrer">{href}</a>')
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


def mailbox_messages(mailbox: Any) -> list[dict[str, Any]]:
    """The mailbox's emails, read defensively (objects or dicts; `recipients` or `to`; a
    datetime or ISO `received_at`), newest first."""
    raw = getattr(mailbox, "messages", None)
    if raw is None and isinstance(mailbox, Mapping):
        raw = mailbox.get("messages")
    if callable(raw):
        raw = raw()
    items = list(raw or [])  # a copy: the SMTP sink may append while we read
    out: list[dict[str, Any]] = []
    for item in items:
        recipients = _field(item, "recipients") or _field(item, "to") or []
        if isinstance(recipients, str):
            recipients = [recipients]
        received = _field(item, "received_at")
        when = _when(received)
        out.append(
            {
                "sender": str(_field(item, "sender") or ""),
                "recipients": [str(r) for r in recipients],
                "subject": str(_field(item, "subject") or ""),
                "body": str(_field(item, "body") or ""),
                "received_at": when,
                "received_text": (
                    when.isoformat(sep=" ", timespec="seconds") if when else str(received or "")
                ),
            }
        )
    out.sort(key=lambda m: _sort_key(m["received_at"]), reverse=True)
    return out


def reply_form(inbound: Any, notice: str) -> str:
    """Reply as the customer: posted to the app's inbound path, signed like a relay would."""
    esc = html.escape
    if not inbound:
        return f'<p class="inbox-note" id="reply-note">{esc(REPLY_NOTE)}</p>'
    shown = f'<p class="inbox-note" id="reply-result">{esc(notice)}</p>' if notice else ""
    return (
        f'{shown}<form class="reply-form" id="reply-form" method="post" action="/customer/reply">'
        "<h2>Reply as the customer</h2>"
        '<label>Dispute <input name="dispute" placeholder="D-1" required></label>'
        '<label>From <input name="from" type="email" placeholder="customer@example.com" '
        "required></label>"
        '<label>Message <textarea name="body" rows="4" required></textarea></label>'
        '<button type="submit">Send reply</button></form>'
    )


async def customer_reply(request: Request) -> Response:
    """POST /customer/reply (form): sign the reply and post it to the app, then go back."""
    inbound = getattr(request.app.state, "inbound", None)
    if not inbound:
        return RedirectResponse("/customer?notice=No+app+to+reply+to", status_code=303)
    form = await request.form()
    body = json.dumps(
        {
            "dispute": form.get("dispute", ""),
            "from": form.get("from", ""),
            "body": form.get("body", ""),
        }
    ).encode()
    app_url, secret = inbound
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            f"{app_url}/api/customer-replies",
            content=body,
            headers=signed_reply_headers(secret, body),
        )
    try:
        data = answer.json()
    except ValueError:
        data = {}
    notice = (
        f"Reply filed with {data.get('dispute')}."
        if answer.is_success
        else f"The app refused the reply: {data.get('error', answer.status_code)}"
    )
    return RedirectResponse(f"/customer?{urlencode({'notice': notice})}", status_code=303)


def render_customer_inbox(mailbox: Any, inbound: Any = None, notice: str = "") -> str:
    """GET /customer's HTML: what was sent to customers, newest first."""
    esc = html.escape
    if mailbox is None:
        content = f'<p class="inbox-empty" id="no-mailbox">{NO_MAILBOX}</p>'
    else:
        emails = mailbox_messages(mailbox)
        if not emails:
            content = '<p class="inbox-empty">No emails yet.</p>'
        else:
            parts = []
            for m in emails:
                parts.append(
                    '<article class="email">'
                    f'<h2 class="email-subject">{esc(m["subject"]) or "(no subject)"}</h2>'
                    '<dl class="email-meta">'
                    f'<dt>From</dt><dd class="email-from">{esc(m["sender"])}</dd>'
                    f'<dt>To</dt><dd class="email-to">{esc(", ".join(m["recipients"]))}</dd>'
                    f'<dt>Received</dt><dd class="email-received">'
                    f"<time>{esc(m['received_text'])}</time></dd>"
                    "</dl>"
                    f'<div class="email-body">{linkify(m["body"])}</div>'
                    "</article>"
                )
            content = "".join(parts)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>Customer inbox · Dispute Desk sandbox</title>\n"
        '<link rel="stylesheet" href="/_sandbox/assets/workspace.css">\n</head>\n'
        '<body class="inbox-page">\n<main id="inbox">\n'
        '<p><a href="/">← Back to the workspace</a></p>\n'
        "<h1>Customer inbox</h1>\n"
        '<p class="muted">What the app sent to customers, newest first.</p>\n'
        f"{reply_form(inbound, notice)}\n"
        f"{content}\n</main>\n</body>\n</html>\n"
    )


async def customer_inbox(request: Request) -> HTMLResponse:
    """GET /customer: the customer's side, from the mailbox the server was handed."""
    state = request.app.state
    notice = request.query_params.get("notice", "")[:300]
    return HTMLResponse(
        render_customer_inbox(
            getattr(state, "mailbox", None), getattr(state, "inbound", None), notice
        )
    )


def inbox_routes() -> list[Route]:
    """The inbox page and its reply form."""
    return [
        Route("/customer", customer_inbox, methods=["GET"]),
        Route("/customer/reply", customer_reply, methods=["POST"]),
    ]
