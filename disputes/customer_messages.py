"""The customer outbox: every message to a dispute's customer is a row first, written in the
transaction that decided to send it, then delivered by `disputes.customer_outbox`.

A message carries its wire identity from the start (`message_id`: the mail's Message-ID, the
webhook's Idempotency-Key), the conversation it belongs to (`in_reply_to` and `references`: the
dispute's earlier messages, so one dispute is one conversation in the customer's mail client),
and the dispute's reference in its subject.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.errors import DisputeError
from disputes.models import dispute_ref
from storage.tables import CustomerMessageRow, DisputeRow

MessageKind = Literal["message", "offer", "reminder", "closing"]
MAX_SUBJECT = 250
MAX_BODY = 20_000
# References kept on a message: the conversation's first message and the latest ones.
MAX_REFERENCES = 10


@dataclass(frozen=True, slots=True)
class ConversationConfig:
    """What every customer message needs from the deployment."""

    public_url: str  # the base of the customer's links: PUBLIC_URL/c/<token>
    sender_domain: str  # the right-hand side of Message-IDs: the sender's mail domain
    offer_days: int = 14
    reminder_hours: int = 72
    team: str = "The Customer Care team"

    def link(self, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/c/{token}"


@dataclass(frozen=True, slots=True)
class CustomerMessage:
    """One message to the customer, as stored."""

    id: int
    dispute_number: int
    kind: str
    template: str
    subject: str
    body: str
    to_address: str
    to_name: str | None
    status: str  # pending, sending, sent, failed
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    created_by: str
    created_at: datetime
    message_id: str
    links: tuple[str, ...] = ()
    mirror_ts: str | None = None
    mirrored: str | None = None

    @property
    def ref(self) -> str:
        return dispute_ref(self.dispute_number)


class NoCustomerAddress(DisputeError):
    def __init__(self, number: int) -> None:
        super().__init__(
            f"{dispute_ref(number)} has no customer email address on record: nothing can be "
            "sent to the customer. Ask the order system to add it, then try again."
        )


def to_message(row: CustomerMessageRow, number: int) -> CustomerMessage:
    return CustomerMessage(
        id=row.id,
        dispute_number=number,
        kind=row.kind,
        template=row.template,
        subject=row.subject,
        body=row.body,
        to_address=row.to_address,
        to_name=row.to_name,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        sent_at=row.sent_at,
        created_by=row.created_by,
        created_at=row.created_at,
        message_id=row.message_id,
        links=tuple(row.links or ()),
        mirror_ts=row.mirror_ts,
        mirrored=row.mirrored,
    )


def subject_with_ref(subject: str, number: int) -> str:
    """The subject, one line, naming the dispute ("… [D-7]") so replies can be matched."""
    ref = dispute_ref(number)
    line = " ".join(subject.split())[:MAX_SUBJECT]
    return line if ref in line else f"{line} [{ref}]".strip()


async def queue_message(
    session: AsyncSession,
    row: DisputeRow,
    *,
    config: ConversationConfig,
    kind: MessageKind,
    template: str,
    purpose: str,
    subject: str,
    body: str,
    actor: Actor,
    at: datetime,
    links: tuple[str, ...] = (),
    proposal_id: int | None = None,
    offer_id: int | None = None,
) -> CustomerMessageRow:
    """Put a message in the outbox, audited, in the caller's transaction. A purpose already
    queued for the dispute is not queued twice: the row already there is returned."""
    if not row.customer_email:
        raise NoCustomerAddress(row.number)
    existing = await session.scalar(
        select(CustomerMessageRow).where(
            CustomerMessageRow.dispute_id == row.id, CustomerMessageRow.purpose == purpose
        )
    )
    if existing is not None:
        return existing
    earlier = list(
        await session.scalars(
            select(CustomerMessageRow.message_id)
            .where(CustomerMessageRow.dispute_id == row.id)
            .order_by(CustomerMessageRow.id)
        )
    )
    references = earlier[:1] + earlier[1:][-(MAX_REFERENCES - 1) :] if earlier else []
    message = CustomerMessageRow(
        dispute_id=row.id,
        kind=kind,
        template=template,
        purpose=purpose,
        message_id=f"dd.{row.number}.{uuid.uuid4().hex}@{config.sender_domain}",
        to_address=row.customer_email,
        to_name=row.customer_name,
        subject=subject_with_ref(subject, row.number),
        body=body[:MAX_BODY],
        links=list(links),
        in_reply_to=earlier[-1] if earlier else None,
        references=references,
        status="pending",
        attempts=0,
        fence=0,
        next_attempt_at=at,
        maybe_sent=False,
        offer_id=offer_id,
        proposal_id=proposal_id,
        created_by=actor.id,
        created_at=at,
        updated_at=at,
    )
    session.add(message)
    await session.flush()
    await audit.append(
        session,
        row,
        actor,
        "customer.message_queued",
        after={
            "message": message.id,
            "kind": kind,
            "template": template,
            "subject": message.subject,
            "message_id": message.message_id,
        },
        at=at,
    )
    return message


async def messages_of(session: AsyncSession, row: DisputeRow) -> list[CustomerMessage]:
    found = await session.scalars(
        select(CustomerMessageRow)
        .where(CustomerMessageRow.dispute_id == row.id)
        .order_by(CustomerMessageRow.id)
    )
    return [to_message(message, row.number) for message in found]
