"""Review, proposal and approval in the thread; money only ever moves through the outbox."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.ids import ActionId, Subject
from blocks.kit import field_errors
from blocks.labels import recommendation_text, resolution_label, supervisor_cause_words
from blocks.proposal import (
    Decision,
    ProposalCard,
    proposal_decided,
    proposal_message,
    proposer_told,
    request_changes_modal,
    supervisor_ping,
    supervisor_ping_handled,
)
from blocks.refund_messages import refund_outcome
from blocks.review_modal import resolution_modal
from blocks.text import Message, date
from disputes.audit import Actor
from disputes.errors import DisputeError
from disputes.lifecycle import Status
from disputes.models import CaseFile
from disputes.payments import Basis, PaymentLedger, request_ref
from disputes.proposals import ProposalInput, ProposalInvalid
from disputes.refund_retry import RetryResult
from disputes.resolution import Proposal
from domain.money import Money, format_minor
from handlers.deps import Deps
from handlers.errors import answering_errors, slack_error
from handlers.modal_values import ModalValues
from handlers.threads import channel_of

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ActionId.START_REVIEW.value)
    async def start_review(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()  # views.open needs the trigger within 3 s: open it right after the ack
        subject = Subject.decode(body["actions"][0].get("value"))

        async def open_modal() -> None:
            actor = await deps.actor(client, body["user"]["id"])
            view = await review_modal(deps, subject.dispute, actor)
            await client.views_open(trigger_id=body["trigger_id"], view=view)

        await answering_errors(respond, open_modal())

    @app.view(ActionId.PROPOSE.value)
    async def propose(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        subject = Subject.decode(view.get("private_metadata"))
        # Before the ack (field errors go with it): the groups were just read to open the modal.
        actor = await deps.actor(client, body["user"]["id"], within=1.0)
        try:
            proposal = await deps.resolution.propose(subject.dispute, read_entry(view), actor)
        except ProposalInvalid as invalid:
            await ack(**field_errors(invalid.errors))
            return
        except DisputeError as refused:
            await ack(**field_errors({"kind": str(refused)}))
            return
        await ack()
        await post_proposal(deps, client, proposal)

    @app.action(ActionId.APPROVE.value)
    async def approve(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        subject = Subject.decode(body["actions"][0].get("value"))
        user_id = body["user"]["id"]
        proposal_id = _proposal_of(subject)

        async def job() -> None:
            actor = await deps.actor(client, user_id)
            proposal = await deps.resolution.approve(subject.dispute, proposal_id, actor)
            await mark_decided(deps, client, proposal, "approved", user_id)

        deps.later(context, lambda: answering_errors(respond, job()))

    @app.action(ActionId.REQUEST_CHANGES.value)
    async def request_changes(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()  # views.open needs the trigger within 3 s: ask why right after the ack
        subject = Subject.decode(body["actions"][0].get("value"))
        proposal_id = _proposal_of(subject)

        async def ask_why() -> None:
            actor = await deps.actor(client, body["user"]["id"])
            await deps.resolution.check_request_changes(subject.dispute, proposal_id, actor)
            proposal = await deps.resolution.proposal(subject.dispute, proposal_id)
            view = request_changes_modal(card_of(proposal))
            await client.views_open(trigger_id=body["trigger_id"], view=view)

        await answering_errors(respond, ask_why())

    @app.view(ActionId.REQUEST_CHANGES_MODAL.value)
    async def changes_requested(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        subject = Subject.decode(view.get("private_metadata"))
        proposal_id = _proposal_of(subject)
        reason = (ModalValues(view).text("reason") or "").strip()
        if not reason:
            await ack(**field_errors({"reason": "Say what should change."}))
            return
        user_id = body["user"]["id"]
        actor = await deps.actor(client, user_id, within=1.0)
        try:
            proposal = await deps.resolution.request_changes(
                subject.dispute, proposal_id, actor, reason
            )
        except DisputeError as refused:
            await ack(**field_errors({"reason": str(refused)}))
            return
        await ack()
        await mark_decided(deps, client, proposal, "changes_requested", user_id)

    @app.action(ActionId.RETRY_REFUND.value)
    async def retry(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        subject = Subject.decode(body["actions"][0].get("value"))
        user_id = body["user"]["id"]

        async def job() -> None:
            actor = await deps.actor(client, user_id)
            result = await deps.resolution.retry(subject.dispute, actor)
            case = await deps.disputes.case(subject.dispute)
            if not result.resent:
                await post_found(client, case, result)
            await deps.threads.refresh_parent(case)

        deps.later(context, lambda: answering_errors(respond, job()))


def _proposal_of(subject: Subject) -> int:
    if subject.proposal is None:
        raise DisputeError("This button does not name a proposal.")
    return subject.proposal


async def post_found(client: AsyncWebClient, case: CaseFile, result: RetryResult) -> None:
    """Retry found the refund at the provider: the thread says so, and nothing new was sent."""
    dispute = case.dispute
    if dispute.channel_id is None or dispute.thread_ts is None:
        return
    message = refund_outcome(
        ref=dispute.ref,
        number=dispute.number,
        request_id=request_ref(result.request_id),
        status="found",
        amount=str(result.amount),
        provider_refund_ids=result.found_refund_ids,
    )
    await client.chat_postMessage(
        channel=dispute.channel_id,
        thread_ts=dispute.thread_ts,
        text=message.text,
        blocks=message.blocks,
    )


def read_entry(view: dict[str, Any]) -> ProposalInput:
    entered = ModalValues(view)
    return ProposalInput(
        kind=entered.choice("kind"),
        amount=entered.text("amount"),
        percent=entered.text("percent"),
        note=entered.text("note") or "",
        justification=entered.text("justification"),
        override_reason=entered.text("override_reason"),
    )


async def review_modal(deps: Deps, number: int, actor: Actor) -> dict[str, Any]:
    context = await deps.resolution.review_context(number, actor)
    dispute, decision = context.case.dispute, context.decision
    missing = context.case.missing_required if dispute.status == Status.NEW else []
    return resolution_modal(
        number=number,
        ref=dispute.ref,
        currency=dispute.currency,
        paid=format_minor(context.paid_minor, dispute.currency),
        refundable=format_minor(context.refundable_minor, dispute.currency),
        recommended=recommendation_text(decision.recommended, dispute.currency)
        if decision
        else None,
        allowed=[r.value for r in decision.allowed] if decision else [],
        missing_evidence=[kind.label for kind in missing],
        fee_percent=decision.restocking_fee_percent if decision else None,
        recommended_kind=decision.recommended.resolution.value
        if decision and decision.recommended
        else None,
        money_note=money_note(context.ledger, context.basis),
    )


def money_note(ledger: PaymentLedger, basis: Basis) -> str:
    """Where the refundable figure comes from, as the provider and the order system say."""
    money = lambda minor: str(Money(minor, ledger.currency))  # noqa: E731
    if ledger.provider_read:
        parts = [f"Refunded at the provider: {money(ledger.provider_minor)}"]
    else:
        parts = [f"The provider could not be read ({ledger.provider_error or 'not configured'})"]
    parts.append(f"the order system says refunded: {money(ledger.order_claim_minor)}")
    if ledger.discrepancy_minor:
        parts.append(f"{money(ledger.discrepancy_minor)} of that never reached the customer")
    if basis is Basis.PROVIDER:
        parts.append("a refund not received is capped by the provider's refunds alone")
    return "; ".join(parts) + "."


def _amount(proposal: Proposal) -> str | None:
    if proposal.amount_minor is None:
        return None
    return str(Money(proposal.amount_minor, proposal.currency))


async def supervisor_cause(deps: Deps, case: CaseFile, proposal: Proposal) -> str | None:
    """What in the policy requires a supervisor for this proposal, in words (None when it is
    only outside policy, or nothing requires one)."""
    if not proposal.needs_supervisor or proposal.outside_policy:
        return None
    decision = await deps.policy.latest(proposal.dispute_number)
    if decision is None:
        return None
    dispute = case.dispute
    causes = decision.supervisor_causes_for(
        proposal.kind,
        proposal.amount_minor,
        currency=dispute.currency,
        order_total_minor=dispute.order_total_minor,
    )
    return supervisor_cause_words(causes, dispute.currency) or None


def card_of(
    proposal: Proposal,
    customer: str | None = None,
    cause: str | None = None,
    *,
    offered: bool = False,
) -> ProposalCard:
    """What the proposal's message shows; `offered` when the pack has the customer accept
    this option before it is carried out."""
    return ProposalCard(
        ref=f"D-{proposal.dispute_number}",
        number=proposal.dispute_number,
        proposal_id=proposal.id,
        kind_label=resolution_label(proposal.kind),
        amount=_amount(proposal),
        note=proposal.note,
        proposer=proposal.proposed_by,
        outside_policy=proposal.outside_policy,
        needs_supervisor=proposal.needs_supervisor,
        justification=proposal.justification,
        proposal_number=proposal.number,
        customer=customer,
        override_reason=proposal.override_reason,
        supervisor_cause=cause,
        offered=offered or proposal.awaits_customer,
        offer_expires_at=proposal.offer_expires_at,
    )


def _supervisor_reason(card: ProposalCard) -> str:
    if card.outside_policy:
        return "outside policy"
    return card.supervisor_cause or "over the approval limit"


async def post_proposal(deps: Deps, client: AsyncWebClient, proposal: Proposal) -> None:
    case = await deps.disputes.case(proposal.dispute_number)
    dispute = case.dispute
    cause = await supervisor_cause(deps, case, proposal)
    offered = deps.resolution.needs_agreement(proposal.kind)
    card = card_of(proposal, dispute.customer_name, cause, offered=offered)
    message = proposal_message(card)
    posted = await client.chat_postMessage(
        channel=channel_of(case),
        thread_ts=dispute.thread_ts,
        text=message.text,
        blocks=message.blocks,
    )
    await deps.resolution.record_message(proposal.id, posted["ts"])
    await deps.threads.refresh_parent(case)
    if proposal.needs_supervisor and deps.supervisors_channel:
        permalink = await deps.threads.permalink(case)
        ping = supervisor_ping(card, permalink, _supervisor_reason(card))
        alert = await client.chat_postMessage(
            channel=deps.supervisors_channel, text=ping.text, blocks=ping.blocks
        )
        await deps.resolution.record_alert(proposal.id, str(alert["channel"]), str(alert["ts"]))


async def mark_decided(
    deps: Deps, client: AsyncWebClient, proposal: Proposal, decision: Decision, user_id: str
) -> None:
    """The proposal's message shows the decision; the proposer and the supervisors' alert are
    told. Each telling is best effort: the decision itself is already recorded."""
    case = await deps.disputes.case(proposal.dispute_number)
    cause = await supervisor_cause(deps, case, proposal)
    card = card_of(proposal, case.dispute.customer_name, cause)
    reason = proposal.decision_reason
    if proposal.message_ts and case.dispute.channel_id:
        message = proposal_decided(card, decision=decision, decided_by=user_id, reason=reason)
        await client.chat_update(
            channel=case.dispute.channel_id,
            ts=proposal.message_ts,
            text=message.text,
            blocks=message.blocks,
        )
    await deps.threads.refresh_parent(case)
    permalink = await deps.threads.permalink(case)
    if proposal.proposed_by != user_id:
        told = proposer_told(
            card, decision=decision, decided_by=user_id, reason=reason, permalink=permalink
        )
        await _tell(client, proposal.proposed_by, told)
    if proposal.alert_channel and proposal.alert_ts:
        handled = supervisor_ping_handled(
            card,
            permalink,
            _supervisor_reason(card),
            decision=decision,
            decided_by=user_id,
            decided_at=date(proposal.decided_at, with_time=True),
        )
        await _update(client, proposal.alert_channel, proposal.alert_ts, handled)


async def _tell(client: AsyncWebClient, user_id: str, message: Message) -> None:
    """A direct message from the app; a failure is logged, never raised over the decision."""
    try:
        await client.chat_postMessage(channel=user_id, text=message.text, blocks=message.blocks)
    except SlackApiError as exc:
        log.warning("could not tell %s: %s", user_id, slack_error(exc))


async def _update(client: AsyncWebClient, channel: str, ts: str, message: Message) -> None:
    try:
        await client.chat_update(channel=channel, ts=ts, text=message.text, blocks=message.blocks)
    except SlackApiError as exc:
        log.warning("could not update the supervisors' alert: %s", slack_error(exc))
