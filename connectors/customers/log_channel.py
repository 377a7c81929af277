"""`log`: each customer message as one INFO line, for the demo and for trying the app out.

    customer message D-7 [offer] to e•••@example.com id=<d7.m3@desk.example> subject="..."
    text="Hello\\nline two" links=https://desk.example/o/1

The address is masked; subject and text are quoted with their newlines escaped, so one message
is always one line.
"""

from __future__ import annotations

import json
import logging

from connectors.customers.outbound import OutgoingMessage
from domain.masking import mask_email

log = logging.getLogger(__name__)

# Characters that some readers of a log treat as a line break although JSON leaves them as is.
_LINE_BREAKS = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


class LogChannel:
    """Writes the message to the log instead of delivering it; always succeeds."""

    name = "log"

    async def send(self, message: OutgoingMessage) -> None:
        log.info("%s", log_line(message))

    async def aclose(self) -> None:
        return None


def log_line(message: OutgoingMessage) -> str:
    """The one line `LogChannel` writes for `message`."""
    parts = [
        "customer message",
        _bare(message.dispute),
        f"[{_bare(message.kind)}]",
        "to",
        mask_email(message.to),
        f"id=<{_bare(message.message_id)}>",
        f"subject={_quoted(message.subject)}",
        f"text={_quoted(message.text)}",
    ]
    if message.links:
        parts.append("links=" + ",".join(_bare(link).replace(",", "%2C") for link in message.links))
    return " ".join(parts)


def _quoted(text: str) -> str:
    """`text` in double quotes, backslash-escaped like JSON, on one line."""
    quoted = json.dumps(text, ensure_ascii=False)
    for char, escaped in _LINE_BREAKS.items():
        quoted = quoted.replace(char, escaped)
    return quoted


def _bare(text: str) -> str:
    """A short token (a dispute, a kind, an id, a URL) escaped like `_quoted`, without quotes
    and without spaces, so that it cannot pass for another field."""
    return _quoted(text)[1:-1].replace(" ", "%20")
