"""The port for messages to a dispute's customer: one message, one `send`, and the error that
tells the outbox whether to send it again. Channels: `smtp.py`, `webhook.py`, `log_channel.py`.

A channel may deliver a message twice (the outbox sends again when an earlier try may have
reached the other side); the receiver de-duplicates by `message_id`, the same on every resend.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Protocol

from domain.text import clean_text


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message to a customer, as the outbox hands it to a channel."""

    message_id: str  # RFC 5322 id without angle brackets; the same on every resend
    dispute: str  # "D-7"
    kind: str  # "message", "offer", "reminder", "closing"
    to: str  # the customer's email address
    to_name: str | None
    subject: str
    text: str  # plain text body; links are written as plain https URLs
    in_reply_to: str | None = None  # the conversation's first message id (no brackets)
    references: tuple[str, ...] = ()  # earlier message ids of the conversation, oldest first
    links: tuple[str, ...] = ()  # URLs in the message (offer, CSAT) for channels that list them


class DeliveryError(Exception):
    """The message was not delivered.

    `maybe_sent` is True when it may have reached the other side all the same (a timeout after
    DATA, a 5xx after the body was posted): the outbox sends it again with the same
    `message_id`, and the receiver de-duplicates by it. `retryable` is False for a definite
    refusal (a webhook's 4xx other than 408/429, an SMTP 5xx for the recipient or the message)
    that a person must look at.
    """

    def __init__(self, reason: str, *, retryable: bool = True, maybe_sent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.maybe_sent = maybe_sent


class CustomerChannel(Protocol):
    """Delivers customer messages: "smtp", "webhook" or "log"."""

    name: str

    async def send(self, message: OutgoingMessage) -> None:
        """Return once the message is delivered; raise `DeliveryError` otherwise."""
        ...

    async def aclose(self) -> None: ...


# http(s) URLs up to whitespace, quotes or angle brackets; trailing punctuation is not part of it.
_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}*"
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")


def html_from_text(text: str) -> str:
    """`text` as simple, safe HTML: everything escaped, `<p>` per blank-line-separated
    paragraph, `<br>` for line breaks, http(s) URLs as links."""
    cleaned = clean_text(text).strip()
    if not cleaned:
        return ""
    paragraphs = (part.strip("\n") for part in _PARAGRAPH_BREAK.split(cleaned))
    return "\n".join(
        "<p>" + "<br>\n".join(_linked(line) for line in paragraph.split("\n")) + "</p>"
        for paragraph in paragraphs
        if paragraph.strip()
    )


def _linked(line: str) -> str:
    out: list[str] = []
    last = 0
    for found in _URL.finditer(line):
        url = found.group(0).rstrip(_TRAILING)
        if not url.partition("://")[2]:
            continue
        out.append(html.escape(line[last : found.start()]))
        href = html.escape(url, quote=True)
        out.append(f'<a href="{href}">{href}</a>')
        last = found.start() + len(url)
    out.append(html.escape(line[last:]))
    return "".join(out)
