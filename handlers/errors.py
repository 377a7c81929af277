"""The one place where errors become what the user reads."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from disputes.errors import DisputeError

log = logging.getLogger(__name__)

Respond = Callable[..., Awaitable[Any]]


def user_message(exc: BaseException) -> str:
    if isinstance(exc, DisputeError):
        return str(exc)
    reference = uuid.uuid4().hex[:8]
    log.error("unexpected error (ref %s)", reference, exc_info=exc)
    return (
        f"Something went wrong on our side (ref `{reference}`). Nothing was lost; please try "
        "again, and tell your Dispute Desk admin the reference if it happens again."
    )


async def answering_errors(respond: Respond, work: Awaitable[None]) -> None:
    """Run `work`; any failure reaches the user as one ephemeral message."""
    try:
        await work
    except Exception as exc:
        await respond(text=user_message(exc), response_type="ephemeral", replace_original=False)
