"""F5 inbound: a customer's reply, filed as correspondence and audited as the customer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from disputes.audit import Actor
from disputes.case_files import DisputeService
from disputes.errors import DisputeError, DisputeNotFound
from domain.evidence import EvidenceDraft, EvidenceKind
from domain.text import clean_text
from storage.db import Database

MAX_BODY = 10_000
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_REF = re.compile(r"^D-?(\d{1,9})$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CustomerReply:
    dispute: str
    sender: str
    body: str


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
    if not _REF.match(dispute):
        raise InvalidReply("dispute: expected a dispute like D-7")
    if not _EMAIL.match(sender):
        raise InvalidReply("from: expected the customer's email address")
    if not body:
        raise InvalidReply("body: the reply is empty")
    if len(body) > MAX_BODY:
        raise InvalidReply(f"body: longer than {MAX_BODY} characters")
    return CustomerReply(dispute, sender, body)


def _text(raw: dict[object, object], field: str, expected: str) -> str:
    value = raw.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidReply(f"{field}: {expected}")
    return clean_text(value).strip()


async def file_reply(db: Database, reply: CustomerReply) -> int:
    """File the reply with its dispute; the sender must be the dispute's customer."""
    match = _REF.match(reply.dispute)
    assert match is not None
    number = int(match.group(1))
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
        },
        captured_at=received,
    )
    await disputes.add_evidence(number, draft, Actor.customer(reply.sender))
    return number
