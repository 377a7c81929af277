"""F5 inbound: a customer's reply, filed as correspondence and audited as the customer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.errors import DisputeError, DisputeNotFound
from domain.evidence import EvidenceDraft, EvidenceKind
from domain.text import clean_text
from storage.db import Database
from storage.tables import CustomerMessageRow, DisputeRow

MAX_BODY = 10_000
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_REF = re.compile(r"^D-?(\d{1,9})$", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"^[^\s<>@]{1,200}@[^\s<>@]{1,100}$")


@dataclass(frozen=True, slots=True)
class CustomerReply:
    dispute: str  # "D-7", or "" when only `in_reply_to` says which conversation it answers
    sender: str
    body: str
    in_reply_to: str | None = None  # the Message-ID of our message it answers, without <>


class InvalidReply(DisputeError):
    """A reply that cannot be filed; the message says which field is wrong."""


def check_reply(raw: object) -> CustomerReply:
    """The reply in a posted JSON object, its text cleaned of control and invisible
    characters; InvalidReply names the first field that is wrong."""
    if not isinstance(raw, dict):
        raise InvalidReply("expected a JSON object with dispute, from and body")
    dispute = _text(raw, "dispute", "expected a dispute like D-7")
    sender = _text(raw, "from", "expected the customer's email address")
    body = _text(raw, "body", "expected the text of the reply")
    answered = _text(raw, "in_reply_to", "expected the Message-ID the reply answers").strip("<>")
    if answered and not _MESSAGE_ID.match(answered):
        raise InvalidReply("in_reply_to: expected the Message-ID the reply answers")
    if not _REF.match(dispute) and not (answered and not dispute):
        raise InvalidReply("dispute: expected a dispute like D-7")
    if not _EMAIL.match(sender):
        raise InvalidReply("from: expected the customer's email address")
    if not body:
        raise InvalidReply("body: the reply is empty")
    if len(body) > MAX_BODY:
        raise InvalidReply(f"body: longer than {MAX_BODY} characters")
    return CustomerReply(dispute, sender, body, answered or None)


def _text(raw: dict[object, object], field: str, expected: str) -> str:
    value = raw.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidReply(f"{field}: {expected}")
    return clean_text(value).strip()


async def file_reply(db: Database, reply: CustomerReply) -> int:
    """File the reply with its dispute; the sender must be the dispute's customer. A reply
    naming the message it answers is filed with that message's dispute (and must agree with
    the dispute it names, if it names one)."""
    number = await _conversation_of(db, reply)
    disputes = DisputeService(db)
    case = await disputes.case(number)
    expected = (case.dispute.customer_email or "").casefold()
    if expected and reply.sender.casefold() != expected:
        raise DisputeNotFound(reply.dispute)  # never confirm a dispute to a stranger
    received = datetime.now(UTC)
    draft = EvidenceDraft(
        EvidenceKind.CUSTOMER_COMMUNICATION,
        "customer-reply",
        f"Customer replied: {reply.body[:120]}",
        {
            "from": reply.sender,
            "body": reply.body,
            "received_at": received.isoformat(),
            "direction": "inbound",
            **({"in_reply_to": reply.in_reply_to} if reply.in_reply_to else {}),
        },
        captured_at=received,
    )
    await disputes.add_evidence(number, draft, Actor.customer(reply.sender))
    return number


async def _conversation_of(db: Database, reply: CustomerReply) -> int:
    match = _REF.match(reply.dispute)
    named = int(match.group(1)) if match else None
    if reply.in_reply_to is None:
        assert named is not None
        return named
    async with db.reading() as session:
        number = await session.scalar(
            select(DisputeRow.number)
            .join(CustomerMessageRow, CustomerMessageRow.dispute_id == DisputeRow.id)
            .where(CustomerMessageRow.message_id == reply.in_reply_to)
        )
    if number is None or (named is not None and named != number):
        raise DisputeNotFound(reply.dispute or reply.in_reply_to)
    return int(number)
