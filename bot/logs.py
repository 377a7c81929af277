"""Log lines: text for a person at a terminal, or one JSON object per line for a collector,
each carrying the id of the Slack request it belongs to (set by `bot.http` for the request and
kept by the work after its ack, which runs in a copy of the request's context)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime

from bot.settings import redact

# The request being handled, in this task and every task or job started from it.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# An id a proxy in front (nginx's $request_id) passed on is kept when it looks like one.
_GIVEN_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def new_request_id(given: str | None = None) -> str:
    """`given` (the X-Request-Id a proxy set) when it is a plain token, else a fresh one."""
    if given and _GIVEN_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id, and the
    exception's text when there is one (URL passwords and `secrets` masked)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info), self.secrets)
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text, self.secrets)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def use_log_format(log_format: str, secrets: Iterable[str] = ()) -> None:
    """Switch the handlers already on the root logger (`dispute-desk`'s) to `log_format`;
    `text` keeps the format they have."""
    if log_format != "json":
        return
    formatter = JsonFormatter(secrets)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
