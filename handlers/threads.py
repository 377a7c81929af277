"""Keeping a dispute's Slack thread in step with the dispute: parent message and cards."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.disputes import evidence_card, parent_message
from disputes.models import CaseFile
from disputes.service import DisputeService

log = logging.getLogger(__name__)


class ThreadPublisher:
    def __init__(self, client: AsyncWebClient, channel_id: str, disputes: DisputeService) -> None:
        self.client = client
        self.channel_id = channel_id
        self.disputes = disputes

    async def publish(self, case: CaseFile) -> CaseFile:
        """Post whatever of the thread is missing, then let the status move on."""
        number = case.dispute.number
        if case.dispute.thread_ts is None:
            parent = parent_message(case.dispute)
            posted = await self.client.chat_postMessage(
                channel=self.channel_id, text=parent.text, blocks=parent.blocks, unfurl_links=False
            )
            case = await self.disputes.link_thread(number, posted["channel"], posted["ts"])
        if case.dispute.evidence_card_ts is None:
            card = evidence_card(case)
            posted = await self.client.chat_postMessage(
                channel=case.dispute.channel_id,
                thread_ts=case.dispute.thread_ts,
                text=card.text,
                blocks=card.blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
            await self.disputes.record_evidence_card(number, posted["ts"])
        before = case.dispute.status
        case = await self.disputes.mark_evidence_ready(number)
        if case.dispute.status != before:
            await self.refresh_parent(case)
        return case

    async def refresh_parent(self, case: CaseFile) -> None:
        dispute = case.dispute
        if dispute.thread_ts is None or dispute.channel_id is None:
            return
        parent = parent_message(dispute)
        await self.client.chat_update(
            channel=dispute.channel_id, ts=dispute.thread_ts, text=parent.text, blocks=parent.blocks
        )

    async def permalink(self, case: CaseFile) -> str | None:
        dispute = case.dispute
        if dispute.thread_ts is None or dispute.channel_id is None:
            return None
        try:
            found = await self.client.chat_getPermalink(
                channel=dispute.channel_id, message_ts=dispute.thread_ts
            )
        except SlackApiError as exc:
            log.warning("no permalink for %s: %s", dispute.ref, exc.response.get("error"))
            return None
        return str(found["permalink"])
