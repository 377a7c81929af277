"""Posting the supervisors' digests and summaries, and showing Takes and Snoozes on them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.alerts import MAX_LINES, digest_message, summary_message
from blocks.text import Message
from disputes.alerts import AlertService
from disputes.sla_scan import SlaScan
from handlers.errors import slack_error
from handlers.thread_links import Threaded

log = logging.getLogger(__name__)


class DigestPublisher:
    def __init__(
        self,
        client: AsyncWebClient,
        alerts: AlertService,
        destinations: dict[str, str],
        links: Callable[[Iterable[Threaded]], Awaitable[dict[int, str]]],
    ) -> None:
        self.client = client
        self.alerts = alerts
        # Links to the disputes' threads (`ThreadPublisher.links`: one permalink asked, ever).
        self.links = links
        # Destination name (as the scan stores it) → Slack channel id or user id.
        self.destinations = destinations

    async def post_pending(self, scan: SlaScan, fence: int) -> int:
        """Post every digest post still waiting, under the scan's lease; how many went out.
        A post Slack refuses stays pending for the next scan."""
        posted = 0
        for pending in await scan.pending_posts():
            channel = self.destinations.get(pending.destination)
            if channel is None:
                await scan.post_failed(pending.post_id, fence, "no such destination any more")
                continue
            try:
                message = await self.message(pending.digest_id)
                answer = await self.client.chat_postMessage(
                    channel=channel, text=message.text, blocks=message.blocks, unfurl_links=False
                )
            except SlackApiError as exc:
                log.warning(
                    "digest %s not posted to %s: %s", pending.digest_id, channel, slack_error(exc)
                )
                await scan.post_failed(pending.post_id, fence, slack_error(exc))
                continue
            await scan.posted(pending.post_id, fence, str(answer["channel"]), str(answer["ts"]))
            posted += 1
        return posted

    async def message(self, digest_id: int) -> Message:
        view = await self.alerts.digest(digest_id)
        if view.kind == "summary":
            return summary_message(view)
        return digest_message(view, await self.links(view.lines[:MAX_LINES]))

    async def refresh(self, digest_id: int) -> None:
        """Show the digest as it is now (after a Take or a Snooze) wherever it was posted."""
        message = await self.message(digest_id)
        for channel, ts in await self.alerts.posts_of(digest_id):
            try:
                await self.client.chat_update(
                    channel=channel, ts=ts, text=message.text, blocks=message.blocks
                )
            except SlackApiError as exc:
                log.warning("digest %s not updated in %s: %s", digest_id, channel, slack_error(exc))
