"""The one place where errors become what the user reads."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from blocks.ids import BadSubject
from disputes.errors import DisputeError

log = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[Any]]


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code, or the HTTP status when Slack did not answer with JSON."""
    data = exc.response.data
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"HTTP {exc.response.status_code}"


def user_message(exc: BaseException) -> str:
    if isinstance(exc, DisputeError):
        return str(exc)
    if isinstance(exc, BadSubject):
        log.warning("a button value or modal metadata the app did not write: not acted on")
        return "That button or form was not made by Dispute Desk, so nothing was done."
    reference = uuid.uuid4().hex[:8]
    log.error("unexpected error (ref %s)", reference, exc_info=exc)
    return (
        f"Something went wrong on our side (ref `{reference}`). Nothing was lost; please try "
        "again, and tell your Dispute Desk admin the reference if it happens again."
    )


async def answering_errors(
    respond: Respond, work: Awaitable[None], *, replace: bool = False
) -> None:
    """Run `work`; any failure reaches the user as one ephemeral message (in place of the
    message the request was answered with, when `replace`)."""
    try:
        await work
    except Exception as exc:
        await respond(text=user_message(exc), response_type="ephemeral", replace_original=replace)
