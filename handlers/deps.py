"""What the listeners need, handed in by the composition root."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NamedTuple

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from disputes.alerts import AlertService
from disputes.assignment import AssignmentService
from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.conversation import ConversationService
from disputes.insight_access import InsightsAccess
from disputes.intake import IntakeService
from disputes.notes import NoteService
from disputes.policy_decisions import PolicyService
from disputes.queues import QueueService
from disputes.resolution import ResolutionService
from handlers.digests import DigestPublisher
from handlers.threads import ThreadPublisher

log = logging.getLogger(__name__)
Job = Callable[[], Awaitable[None]]
# The Slack user whose request the running job serves (None outside one): whoever is told of a
# change to a dispute reads it to know who made the change.
acting_user: ContextVar[str | None] = ContextVar("acting_user", default=None)


class RequestKey(NamedTuple):
    """Identifies one Slack request across retries and replays."""

    key: str
    kind: str


@dataclass(frozen=True, slots=True)
class Deps:
    disputes: DisputeService
    intake: IntakeService
    policy: PolicyService
    resolution: ResolutionService
    threads: ThreadPublisher
    # Runs `job` after the ack on a bounded pool of workers, once per request key.
    submit: Callable[[Job, RequestKey | None], None]
    # The Slack user groups (from the roles file) a user belongs to.
    groups_of: Callable[[Any, str], Awaitable[set[str]]]
    supervisors_channel: str | None = None
    # Writes to customers ("Message customer"); None: customer messaging is off.
    conversation: ConversationService | None = None
    # Files a person's replies in a dispute's thread as notes; None: replies are not filed.
    notes: NoteService | None = None
    # Owners: `/dispute assign`, `/dispute take` and the Take button; None: they are off.
    assignment: AssignmentService | None = None
    # Bottleneck alerts: the digest's Snooze, and its updates; None: alerts are off.
    alerts: AlertService | None = None
    digests: DigestPublisher | None = None
    # `/dispute queue` and App Home; None: they answer that queues are not set up.
    queues: QueueService | None = None
    # `/dispute insights`; None: it answers that insights are not set up.
    insights: InsightsAccess | None = None

    def __post_init__(self) -> None:
        # The thread's cards offer "Message customer" exactly when there is a service behind it.
        self.threads.messaging = self.conversation is not None

    async def actor(
        self, client: AsyncWebClient, user_id: str, *, within: float | None = None
    ) -> Actor:
        """The person acting, with the roles file's user groups they are in. A lookup that
        fails or takes longer than `within` seconds counts as no groups: never more rights."""
        try:
            async with asyncio.timeout(within):
                groups = await self.groups_of(client, user_id)
        except TimeoutError:
            log.warning("user groups of %s not read in time: acting without them", user_id)
            groups = set()
        return Actor.slack_user(user_id, groups)

    def later(self, context: AsyncBoltContext, job: Job) -> None:
        """Queue `job` for the request in `context`; a duplicate of it never runs."""
        user_id = context.get("user_id")

        async def as_user() -> None:
            token = acting_user.set(user_id if isinstance(user_id, str) else None)
            try:
                await job()
            finally:
                acting_user.reset(token)

        self.submit(as_user, context.get("request_key"))
