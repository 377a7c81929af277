"""Wiring what moves money: roles, the refund gateway, the outbox worker and its reports."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.refund_messages import refund_alert, refund_outcome
from bot.errors import StartupError
from bot.settings import Settings
from connectors.orders.protocol import OrderSource
from connectors.refunds.factory import refund_gateway_from_settings
from connectors.refunds.protocol import RefundGateway
from disputes.case_files import DisputeService
from disputes.payments import request_ref
from disputes.refund_worker import RefundOutcome
from disputes.resolution import ResolutionService, decision_update
from disputes.roles import CurrentRoles, RolesError
from disputes.writeback import write_back
from domain.money import Money
from domain.roles import Role
from handlers.errors import slack_error
from handlers.threads import ThreadPublisher

log = logging.getLogger(__name__)
GROUPS_TTL = 60.0
FINAL = frozenset({"succeeded", "duplicate", "failed"})
ALERTS = frozenset({"needs_attention", "duplicate"})


def load_roles(path: Path | None) -> CurrentRoles:
    """The roles in force, reloaded when ROLES_FILE changes; a file that cannot be used at
    start-up stops it."""
    try:
        return CurrentRoles(path)
    except RolesError as exc:
        raise StartupError(str(exc)) from None


def load_gateway(settings: Settings) -> RefundGateway | None:
    try:
        gateway = refund_gateway_from_settings(
            settings.refund_gateway,
            stripe_api_key=settings.stripe_api_key,
            stripe_api_base=settings.stripe_api_base,
        )
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    if gateway is None:
        log.warning("no REFUND_GATEWAY: approved refunds cannot be executed")
    return gateway


class GroupDirectory:
    """Which of the roles file's Slack user groups a user is in. The groups are those the file
    names now; each group's members are cached for at most GROUPS_TTL seconds."""

    def __init__(self, roles: CurrentRoles, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.roles = roles
        self.clock = clock
        self._members: dict[str, tuple[float, set[str]]] = {}

    @property
    def groups(self) -> list[str]:
        current = self.roles.current()
        return sorted({g for role in Role if (e := current.entry(role)) for g in e.groups})

    async def groups_of(self, client: AsyncWebClient, user_id: str) -> set[str]:
        found = set()
        for group in self.groups:
            if user_id in await self._users(client, group):
                found.add(group)
        return found

    async def _users(self, client: AsyncWebClient, group: str) -> set[str]:
        cached = self._members.get(group)
        asked = self.clock()
        if cached and asked - cached[0] < GROUPS_TTL:
            return cached[1]
        try:
            answer = await client.usergroups_users_list(usergroup=group)
            users: set[str] = set(answer.get("users", []))
        except SlackApiError as exc:
            log.warning("cannot read user group %s: %s", group, slack_error(exc))
            users = set()
        self._members[group] = (asked, users)
        return users


class RefundReporter:
    """Tells the thread of each change in a refund's state (one message per change), moves the
    parent's status, alerts supervisors when a refund needs a person, and tells the order system
    of the final decision."""

    def __init__(
        self,
        disputes: DisputeService,
        threads: ThreadPublisher,
        resolution: ResolutionService,
        orders: OrderSource | None = None,
        supervisors_channel: str | None = None,
    ) -> None:
        self.disputes = disputes
        self.threads = threads
        self.resolution = resolution
        self.orders = orders
        self.supervisors_channel = supervisors_channel

    async def __call__(self, outcome: RefundOutcome) -> None:
        await self._post(outcome)
        if outcome.status in ALERTS:
            await self._alert(outcome)
        if outcome.status not in FINAL or self.orders is None:
            return
        proposal = await self.resolution.approved_proposal(outcome.dispute_number)
        if proposal is not None:
            update = decision_update(
                proposal,
                refund_status="failed" if outcome.status == "failed" else "succeeded",
                provider_refund_id=outcome.provider_refund_id,
            )
            await write_back(self.disputes.db, self.orders, outcome.dispute_number, update)

    async def _post(self, outcome: RefundOutcome) -> None:
        case = await self.disputes.case(outcome.dispute_number)
        dispute = case.dispute
        if dispute.thread_ts is None or dispute.channel_id is None:
            return
        message = refund_outcome(
            ref=dispute.ref,
            number=dispute.number,
            request_id=request_ref(outcome.request_id),
            status=outcome.status,  # type: ignore[arg-type]
            amount=str(Money(outcome.amount_minor, outcome.currency)),
            provider_refund_ids=outcome.provider_refund_ids,
            detail=outcome.detail,
        )
        await self.threads.client.chat_postMessage(
            channel=dispute.channel_id,
            thread_ts=dispute.thread_ts,
            text=message.text,
            blocks=message.blocks,
        )
        if outcome.status in FINAL:
            await self.threads.refresh(dispute.number)  # the card's ledger moved
        await self.threads.refresh_parent(case)

    async def _alert(self, outcome: RefundOutcome) -> None:
        if self.supervisors_channel is None:
            return
        case = await self.disputes.case(outcome.dispute_number)
        amount = str(Money(outcome.amount_minor, outcome.currency))
        alert = refund_alert(
            case.dispute.ref,
            amount,
            outcome.status,
            outcome.detail,
            await self.threads.permalink(case),
        )
        await self.threads.client.chat_postMessage(
            channel=self.supervisors_channel, text=alert.text, blocks=alert.blocks
        )
