"""Resolving the configured channels to ids, and joining them, at start-up."""

from __future__ import annotations

import re

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.errors import slack_error

CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")


class ChannelError(Exception):
    """The configured channel cannot be used; the message says which and why."""


async def resolve_channel(client: AsyncWebClient, setting: str, value: str) -> str:
    """Turn a channel id or name into an id the bot is a member of."""
    wanted = value.strip().lstrip("#")
    try:
        if CHANNEL_ID.fullmatch(wanted):
            info = await client.conversations_info(channel=wanted)
            channel = info["channel"]
        else:
            found = await _find_by_name(client, wanted)
            if found is None:
                raise ChannelError(f"{setting}={value!r}: no channel of that name is visible")
            channel = found
        if not channel.get("is_member") and not channel.get("is_private"):
            await client.conversations_join(channel=channel["id"])
    except SlackApiError as exc:
        error = slack_error(exc)
        raise ChannelError(f"{setting}={value!r} cannot be used: Slack says {error}") from None
    if channel.get("is_private") and not channel.get("is_member"):
        raise ChannelError(f"{setting}={value!r} is private: invite the bot with /invite first")
    return str(channel["id"])


async def _find_by_name(client: AsyncWebClient, name: str) -> dict | None:
    cursor = None
    while True:
        page = await client.conversations_list(
            types="public_channel,private_channel",
            limit=200,
            cursor=cursor,
            exclude_archived=True,
        )
        for channel in page["channels"]:
            if channel.get("name") == name:
                return dict(channel)
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
