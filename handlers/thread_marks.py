"""Every part of a dispute's thread (the parent message, the evidence card, the policy card)
is posted with message metadata naming its dispute and part. A post whose answer never came
back (Slack slower than the client's timeout, or the process stopped before recording it) may
still have landed: the next claim on the thread looks for the part in Slack first, and uses the
message it finds instead of posting a second one. When Slack refuses the look-up itself (an
install without `channels:history`, say), the part is posted, with a warning: a thread posted
twice is better than a thread never posted.

The mark also says whose thread a reply is in before the thread is recorded: the parent is
posted first and recorded with the cards, and a person may reply in between (`marked_parent`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.errors import slack_error
from handlers.slack_client import RateLimitGaveUp, retry_after

log = logging.getLogger(__name__)
T = TypeVar("T")

EVENT_TYPE = "dispute_desk_thread_part"
PARENT = "parent"
# Looked for among the channel's messages since the dispute was opened (less this much, for
# clocks that disagree), newest first, a page at a time, for at most this many pages.
CLOCK_MARGIN = timedelta(minutes=5)
PAGE = 200
PAGES = 5
# What is done when a part cannot be looked for.
MISSING = "posting what is missing"


def mark(number: int, part: str) -> dict[str, Any]:
    """The metadata of the dispute's thread part."""
    return {"event_type": EVENT_TYPE, "event_payload": {"dispute": number, "part": part}}


def part_of(message: dict[str, Any]) -> tuple[int, str] | None:
    """The dispute number and part a message was posted as, if it is one."""
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict):
        return None
    number, part = payload.get("dispute"), payload.get("part")
    if not isinstance(number, int) or not isinstance(part, str):
        return None
    return number, part


async def marked_parent(
    client: AsyncWebClient, channel: str, thread_ts: str, bot_user: str
) -> int | None:
    """The dispute whose parent message the app posted at `thread_ts`, read from the message's
    mark; None when the message is no parent the app posted (a mark on another app's or a
    person's message counts for nothing) or Slack refused the look-up for good."""
    what, lookup = f"the message at {thread_ts}", _marked(client, channel, thread_ts, bot_user)
    return await _looking(what, "filing nothing", None, lookup)


async def posted_parent(
    client: AsyncWebClient, channel: str, number: int, opened_at: datetime
) -> str | None:
    """The ts of the dispute's parent message already in the channel, if one is there."""
    lookup = _parent(client, channel, number, opened_at)
    return await _looking(f"D-{number}'s parent message", MISSING, None, lookup)


async def posted_cards(
    client: AsyncWebClient, channel: str, thread_ts: str, number: int
) -> dict[str, str]:
    """The dispute's cards already in its thread: part -> ts (the first of each)."""
    lookup = _cards(client, channel, thread_ts, number)
    return await _looking(f"D-{number}'s cards", MISSING, {}, lookup)


async def _looking(what: str, then: str, none: T, lookup: Awaitable[T]) -> T:
    """The look-up's answer; `none` when Slack refused it for good (a rate limit or a lost
    connection is raised: whoever asked tries again)."""
    try:
        return await lookup
    except SlackApiError as exc:
        if isinstance(exc, RateLimitGaveUp) or retry_after(exc) is not None:
            raise
        log.warning("could not look for %s in Slack (%s): %s", what, slack_error(exc), then)
        return none


async def _marked(
    client: AsyncWebClient, channel: str, thread_ts: str, bot_user: str
) -> int | None:
    page = await client.conversations_history(
        channel=channel,
        oldest=thread_ts,
        latest=thread_ts,
        inclusive=True,
        limit=1,
        include_all_metadata=True,
    )
    for message in page.get("messages") or []:
        part = part_of(message)
        own = message.get("user") == bot_user
        if own and message.get("ts") == thread_ts and part is not None and part[1] == PARENT:
            return part[0]
    return None


async def _parent(
    client: AsyncWebClient, channel: str, number: int, opened_at: datetime
) -> str | None:
    oldest = f"{(opened_at - CLOCK_MARGIN).timestamp():.6f}"
    latest: str | None = None
    for _ in range(PAGES):
        page = await client.conversations_history(
            channel=channel, oldest=oldest, latest=latest, limit=PAGE, include_all_metadata=True
        )
        messages = page.get("messages") or []
        for message in messages:
            if part_of(message) == (number, PARENT):
                return str(message["ts"])
        if not page.get("has_more") or not messages:
            return None
        latest = str(messages[-1]["ts"])  # newest first: the next page is older than this
    return None


async def _cards(
    client: AsyncWebClient, channel: str, thread_ts: str, number: int
) -> dict[str, str]:
    page = await client.conversations_replies(
        channel=channel, ts=thread_ts, limit=PAGE, include_all_metadata=True
    )
    found: dict[str, str] = {}
    for message in page.get("messages") or []:
        part = part_of(message)
        if part is not None and part[0] == number and part[1] != PARENT:
            found.setdefault(part[1], str(message["ts"]))
    return found
