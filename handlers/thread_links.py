"""Links to disputes' threads: a permalink asked of Slack, or built as Slack writes them once
one permalink has shown how (the workspace's message links up to the channel)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from disputes.models import CaseFile
from handlers.errors import slack_error

log = logging.getLogger(__name__)


class ThreadLinks:
    """Links to the threads of disputes, for the messages that point at them."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        # The workspace's message links up to the channel, learnt from one permalink.
        self._archives: str | None = None

    async def permalink(self, case: CaseFile) -> str | None:
        dispute = case.dispute
        if dispute.thread_ts is None or dispute.channel_id is None:
            return None
        return await self._permalink(dispute.channel_id, dispute.thread_ts)

    async def _permalink(self, channel: str, ts: str) -> str | None:
        try:
            found = await self.client.chat_getPermalink(channel=channel, message_ts=ts)
        except SlackApiError as exc:
            log.warning("no permalink for %s/%s: %s", channel, ts, slack_error(exc))
            return None
        return str(found["permalink"])

    async def thread_link(self, case: CaseFile) -> str | None:
        """A link to a thread just posted: asked of Slack the first time in this process, then
        built as Slack wrote it (a thread older than that may be gone: `permalink` asks)."""
        dispute = case.dispute
        if self._archives is None:
            found = await self.permalink(case)
            if found is not None:
                self._archives = _archives_of(found, dispute)
            return found
        return (await self.links([dispute])).get(dispute.number)

    async def links(self, disputes: Iterable[Threaded]) -> dict[int, str]:
        """Links to the threads of `disputes` (those that have one), built from each thread's
        channel and ts: the first permalink asked in this process shows how Slack writes them."""
        threaded = [d for d in disputes if d.number and d.channel_id and d.thread_ts]
        if not threaded:
            return {}
        for dispute in threaded[:3]:  # a thread deleted in Slack has no permalink: try another
            if self._archives is not None:
                break
            self._archives = await self._learn_archives(dispute)
        if self._archives is None:
            return {}
        return {
            int(d.number or 0): (
                f"{self._archives}{d.channel_id}/p{str(d.thread_ts).replace('.', '')}"
            )
            for d in threaded
        }

    async def _learn_archives(self, dispute: Threaded) -> str | None:
        """The part of a message link before the channel ("https://acme.slack.com/archives/"),
        from the permalink of `dispute`'s thread."""
        found = await self._permalink(str(dispute.channel_id), str(dispute.thread_ts))
        return None if found is None else _archives_of(found, dispute)


class Threaded(Protocol):
    """Anything naming a dispute's thread: a dispute, a queue row, a digest's line."""

    @property
    def number(self) -> int | None: ...
    @property
    def channel_id(self) -> str | None: ...
    @property
    def thread_ts(self) -> str | None: ...


def _archives_of(permalink: str, dispute: Threaded) -> str | None:
    """The part of `permalink` (of `dispute`'s thread) before the channel, or None when Slack
    wrote it otherwise than expected."""
    tail = f"/archives/{dispute.channel_id}/p{str(dispute.thread_ts).replace('.', '')}"
    if not permalink.split("?", 1)[0].endswith(tail):
        log.warning("a permalink not written as expected: thread links left out")
        return None
    return permalink.split("?", 1)[0].removesuffix(tail) + "/archives/"
