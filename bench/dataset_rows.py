"""Rows of one generated dispute beyond the dispute itself, as the app's services write them:
proposals, offers and the answers to them, refund requests, the satisfaction survey, evidence
filed during review, tags, and the audit trail that names them."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench.dataset_cases import Case
from bench.dataset_timeline import OFFER_DAYS, Round, Timeline
from disputes.audit import GENESIS, entry_hash
from disputes.evidence_gathering import content_hash
from disputes.intake import basis_for
from disputes.lifecycle import Status
from disputes.payments import provider_request_id
from domain.evidence import EvidenceDraft, EvidenceKind
from domain.resolutions import MONEY_KINDS, Resolution

Row = dict[str, Any]
Actor = tuple[str, str]  # (actor type, actor id), as `disputes.audit.Actor` stores them
ROUND_SLOTS = 4  # ids kept per dispute for its proposals, its offers, its refund requests
REFUNDS: Actor = ("system", "refunds")
REFUND_OUTCOMES = {
    Status.RESOLVED: "succeeded",
    Status.EXECUTION_FAILED: "failed",
    Status.NEEDS_ATTENTION: "unknown",
}
APPROVERS = tuple(f"U0{(n * 104_729) % 100_000:05d}SV" for n in range(1, 7))
CSAT_SHARE, CSAT_ANSWERED = 0.92, 0.38
CSAT_DAYS, REMINDER_HOURS = 30, 72
# What the customer asked for, more or less; the other kinds (deny, uphold, carrier claim) rate
# lower, and so does a dispute whose first offer was turned down.
HAPPY_KINDS = frozenset(
    {
        Resolution.FULL_REFUND,
        Resolution.PARTIAL_REFUND,
        Resolution.OVERTURN,
        Resolution.REPLACEMENT,
        Resolution.STORE_CREDIT,
        Resolution.WAIVE_FEE,
    }
)
RATING_WEIGHTS = {  # 1 … 5
    "happy": (3, 3, 8, 26, 60),
    "second offer": (8, 10, 18, 34, 30),
    "unhappy": (30, 22, 20, 16, 12),
}
COMMENTS = ("Quick and fair, thanks.", "Took far too long.", "Still not happy.", "Great help!")
DECLINE_REASONS = (
    "That is not enough for what I paid.",
    "I want my money back, not credit.",
    "I would rather have a replacement.",
    "",
)
REPLIES = (
    "Here are more photos of the damage, taken the day it arrived.",
    "The courier left it at the door in the rain; the box was soaked.",
    "I still have the original packaging if you need it back.",
)
FILE_NAMES = {
    EvidenceKind.PROOF_OF_DAMAGE: ("photo-damage.jpg", "image/jpeg"),
    EvidenceKind.ATTACHMENT: ("carrier-letter.pdf", "application/pdf"),
}


def proposal_amount(rng: random.Random, kind: Resolution, disputed: int) -> int | None:
    disputed = max(disputed, 100)
    if kind in (Resolution.FULL_REFUND, Resolution.OVERTURN, Resolution.STORE_CREDIT):
        return disputed
    if kind is Resolution.PARTIAL_REFUND:
        return disputed * rng.randint(30, 70) // 100
    if kind is Resolution.WAIVE_FEE:
        return rng.choice((499, 799, 1299))
    return None


def carried_out(timeline: Timeline) -> list[int]:
    """Indexes of the rounds whose option was carried out (the dispute went on to execute it
    or to be resolved), in order."""
    statuses, done = timeline.statuses, []
    for index, found in enumerate(timeline.rounds):
        after = _decided(found)
        if after is None or after + 1 >= len(statuses):
            continue
        if statuses[after + 1] in (Status.EXECUTING, Status.RESOLVED):
            done.append(index)
    return done


def money_moved(timeline: Timeline, amounts: list[int | None]) -> int:
    """What the dispute's refunds moved: its options that move money, carried out through to
    the resolution."""
    moved = 0
    for index in carried_out(timeline):
        found = timeline.rounds[index]
        after = _decided(found)
        assert after is not None
        if found.kind in MONEY_KINDS and timeline.first(Status.RESOLVED, after) is not None:
            moved += amounts[index] or 0
    return moved


def _decided(found: Round) -> int | None:
    """Index of the status from which the round's option may be carried out: its approval,
    or the customer's acceptance when it needed one."""
    if found.offered is None:
        return found.approved
    return found.answered if found.answer == "accepted" else None


def actor_for(after: Status, before: Status, agent: str, customer: str) -> Actor:
    """Who moved the dispute from `before` to `after`."""
    if after is Status.EVIDENCE_READY:
        return ("system", "intake")
    if before is Status.AWAITING_CUSTOMER and after in (Status.APPROVED, Status.IN_REVIEW):
        return ("customer", customer)
    if after is Status.OFFER_EXPIRED:
        return ("system", "conversation")
    if after in (Status.EXECUTING, Status.EXECUTION_FAILED, Status.NEEDS_ATTENTION):
        return REFUNDS
    if after is Status.RESOLVED and before is not Status.APPROVED:
        return REFUNDS
    return ("slack_user", agent)


@dataclass(slots=True)
class Resolutions:
    """The proposal, offer and survey rows of a dispute, with the audit details of the status
    steps that name them (by index in the timeline). `ids(table, slot)` gives the dispute's
    `slot`th id in a table."""

    rng: random.Random
    row: Row
    timeline: Timeline
    agent: str
    now: datetime
    ids: Callable[[str, int], int]
    customer: str  # who answers offers, as the audit names them
    proposals: list[Row] = field(default_factory=list)
    offers: list[Row] = field(default_factory=list)
    refunds: list[Row] = field(default_factory=list)
    surveys: list[Row] = field(default_factory=list)
    details: dict[int, dict[str, Any]] = field(default_factory=dict)
    actors: dict[int, Actor] = field(default_factory=dict)  # who took a status step, if not
    # the one `actor_for` names
    # Audit entries besides the status steps: (at, actor, action, after, written before the
    # status step of the same moment).
    entries: list[tuple[datetime, Actor, str, dict[str, Any], bool]] = field(default_factory=list)

    def make(self, amounts: list[int | None]) -> None:
        timeline = self.timeline
        for slot, (found, amount) in enumerate(zip(timeline.rounds, amounts, strict=True)):
            self._round(slot, found, amount)
            decided = _decided(found)
            if found.kind in MONEY_KINDS and amount is not None and decided is not None:
                self._refund(slot, decided, amount)
        for index, status in enumerate(timeline.statuses):
            if status is Status.RESOLVED and timeline.statuses[index - 1] is Status.APPROVED:
                kind = self._round_before(index).kind
                self.details[index] = {"resolution": kind.value}
        resolved = timeline.first(Status.RESOLVED)
        if resolved is not None and self.rng.random() < CSAT_SHARE:
            kind = self._round_before(resolved).kind
            second = any(r.answer in ("declined", "expired") for r in timeline.rounds)
            self.surveys.append(self._survey(kind, timeline.times[resolved], second=second))

    def _round_before(self, index: int) -> Round:
        return [r for r in self.timeline.rounds if r.proposed < index][-1]

    def _round(self, slot: int, found: Round, amount: int | None) -> None:
        row, times = self.row, self.timeline.times
        proposed_at = times[found.proposed]
        approver = self.rng.choice(APPROVERS)
        approved = found.approved
        status = "open" if approved is None else "approved"
        if found.answer in ("declined", "expired"):
            status = found.answer
        proposal = {
            "id": self.ids("proposals", slot),
            "dispute_id": row["id"],
            "kind": found.kind.value,
            "amount_minor": amount,
            "currency": row["currency"],
            "note": "As discussed in the thread.",
            "justification": None,
            "outside_policy": False,
            "needs_supervisor": amount is not None and amount >= 20_000,
            "proposed_by": self.agent,
            "proposed_at": proposed_at,
            "status": status,
            "decided_by": None if approved is None else approver,
            "decided_at": None if approved is None else times[approved],
            "message_ts": f"{int(proposed_at.timestamp())}.{row['number'] % 1_000_000:06d}",
            "number": slot + 1,
            "override_reason": None,
            "decision_reason": None,
            "alert_channel": None,
            "alert_ts": None,
        }
        self.proposals.append(proposal)
        self.details[found.proposed] = {
            "proposal": proposal["id"],
            "kind": found.kind.value,
            "amount_minor": amount,
            "currency": row["currency"],
            "outside_policy": False,
            "needs_supervisor": proposal["needs_supervisor"],
            "justification": None,
        }
        if approved is not None:
            self.details[approved] = {"proposal": proposal["id"]}
            self.actors[approved] = ("slack_user", approver)
        if found.offered is not None:
            self._offer(slot, found, proposal)

    def _offer(self, slot: int, found: Round, proposal: Row) -> None:
        assert found.offered is not None
        at = self.timeline.times[found.offered]
        expires = at + timedelta(days=OFFER_DAYS)
        reminder = at + timedelta(hours=REMINDER_HOURS)
        answered = found.answered
        answered_at = None
        if answered is not None and found.answer in ("accepted", "declined"):
            answered_at = self.timeline.times[answered]
        reason = None
        if found.answer == "declined":
            reason = self.rng.choice(DECLINE_REASONS) or None
        offer = {
            "id": self.ids("customer_offers", slot),
            "dispute_id": self.row["id"],
            "proposal_id": proposal["id"],
            "nonce": f"{self.rng.getrandbits(96):024x}",
            "status": found.answer or "open",
            "created_at": at,
            "expires_at": expires,
            "reminder_due_at": reminder,
            "reminded_at": reminder if reminder <= (answered_at or self.now) else None,
            "answered_at": answered_at,
            "decline_reason": reason,
        }
        self.offers.append(offer)
        self.details[found.offered] = {
            "proposal": proposal["id"],
            "offer": offer["id"],
            "expires_at": expires.isoformat(),
        }
        if answered is not None:
            named = {"proposal": proposal["id"], "offer": offer["id"]}
            if found.answer == "declined":
                named["reason"] = reason or ""
            self.details[answered] = named

    def _refund(self, slot: int, decided: int, amount: int) -> None:
        """The refund request the decision queued, and what the worker made of it so far:
        succeeded once the dispute was resolved, failed or unknown when it stopped there,
        in flight while it executes, pending before that."""
        statuses, times, row = self.timeline.statuses, self.timeline.times, self.row
        if decided + 1 < len(statuses) and statuses[decided + 1] is not Status.EXECUTING:
            return
        executing = times[decided + 1] if decided + 1 < len(statuses) else None
        ended = status = None
        for index in range(decided + 2, len(statuses)):  # until the refund settled
            ended, status = times[index], REFUND_OUTCOMES.get(statuses[index])
            if statuses[index] is not Status.NEEDS_ATTENTION:
                break
        if status is None:
            ended, status = None, "pending" if executing is None else "in_flight"
        request_id = self.ids("refund_requests", slot)
        key = f"dd-{row['number']}-{self.rng.getrandbits(128):032x}"
        refund_id = f"re_{self.rng.getrandbits(96):024x}" if status == "succeeded" else None
        requester = self.actors.get(decided) or (
            ("customer", self.customer)
            if statuses[decided - 1] is Status.AWAITING_CUSTOMER
            else ("slack_user", self.agent)
        )
        self.refunds.append(
            {
                "id": request_id,
                "dispute_id": row["id"],
                "payment_reference": row["order_snapshot"]["payment"]["reference"],
                "amount_minor": amount,
                "currency": row["currency"],
                "gateway": "stripe",
                "idempotency_key": key,
                "provider_ref": provider_request_id(request_id, key),
                "status": status,
                "basis": basis_for(row["reason"]).value,
                "attempts": 0 if executing is None else 1,
                "fence": 0 if executing is None else 1,
                "lease_until": executing + timedelta(minutes=2)
                if status == "in_flight" and executing
                else None,
                "sends": 0 if executing is None else 1,
                "last_in_flight_at": executing,
                "unknown_since": executing if status == "unknown" else None,
                "attention": "unknown_too_long" if status == "unknown" else None,
                "provider_refund_id": refund_id,
                "provider_refund_ids": [refund_id] if refund_id else [],
                "failure_reason": "The provider refused the refund."
                if status == "failed"
                else None,
                "requested_by": requester[1],
                "proposed_by": self.agent,
                "proposal_id": self.ids("proposals", slot),
                "created_at": times[decided],
                "updated_at": ended or executing or times[decided],
                "claimed_at": executing,
                "next_attempt_at": ended or times[decided],
            }
        )
        self.entries.append(
            (
                times[decided],
                requester,
                "refund.requested",
                {
                    "refund_request": request_id,
                    "amount_minor": amount,
                    "currency": row["currency"],
                    "idempotency_key": key,
                },
                False,
            )
        )
        if executing is not None:
            self.entries.append(
                (
                    executing,
                    REFUNDS,
                    "refund.sent",
                    {"refund_request": request_id, "send": 1},
                    False,
                )
            )
        if ended is not None:
            after_entry: dict[str, Any] = {"refund_request": request_id}
            if refund_id:
                after_entry |= {"provider_refund_id": refund_id, "amount_minor": amount}
            self.entries.append((ended, REFUNDS, f"refund.{status}", after_entry, True))

    def _survey(self, kind: Resolution, resolved_at: datetime, *, second: bool) -> Row:
        rng = self.rng
        created = min(resolved_at + timedelta(seconds=rng.randint(30, 600)), self.now)
        expires = created + timedelta(days=CSAT_DAYS)
        answered = created + timedelta(seconds=int(3600 * 24 * 10 * rng.random() ** 3) + 300)
        rating = comment = None
        if rng.random() < CSAT_ANSWERED and answered < min(expires, self.now):
            mood = "unhappy" if kind not in HAPPY_KINDS else "second offer" if second else "happy"
            rating = rng.choices((1, 2, 3, 4, 5), RATING_WEIGHTS[mood])[0]
            comment = rng.choice(COMMENTS) if rng.random() < 0.3 else None
        return {
            "id": self.ids("csat_surveys", 0),
            "dispute_id": self.row["id"],
            "nonce": f"{rng.getrandbits(96):024x}",
            "created_at": created,
            "expires_at": expires,
            "rating": rating,
            "comment": comment,
            "answered_at": answered if rating is not None else None,
        }


def filed_in_review(
    rng: random.Random, case: Case, timeline: Timeline, row: Row, agent: str, customer: str
) -> list[tuple[Row, Actor]]:
    """The evidence filed between the start of review and the first proposal, each with who
    filed it: photos or a file a person shared in the thread, the customer's reply by mail."""
    start = timeline.first(Status.IN_REVIEW)
    if start is None or not timeline.rounds:
        return []
    begin, end = timeline.times[start], timeline.times[timeline.rounds[0].proposed]
    found = []
    for kind in case.added:
        at = begin + (end - begin) * rng.uniform(0.1, 0.9)
        at = at.replace(microsecond=0)
        if kind is EvidenceKind.CUSTOMER_COMMUNICATION:
            draft, actor = _reply(rng, row, customer, at), ("customer", customer)
        else:
            draft, actor = _shared_file(rng, kind, row, agent), ("slack_user", agent)
        found.append((_evidence_row(row["id"], draft, at, actor[1]), actor))
    return found


def _reply(rng: random.Random, row: Row, customer: str, at: datetime) -> EvidenceDraft:
    """What `disputes.customer.file_reply` files for a reply by mail."""
    body = rng.choice(REPLIES)
    payload = {
        "from": customer,
        "body": body,
        "received_at": at.isoformat(),
        "direction": "inbound",
    }
    return EvidenceDraft(
        EvidenceKind.CUSTOMER_COMMUNICATION,
        "customer-reply",
        f"Customer replied: {body[:120]}",
        payload,
        captured_at=at,
    )


def _shared_file(rng: random.Random, kind: EvidenceKind, row: Row, agent: str) -> EvidenceDraft:
    """What `handlers.files.file_draft` files for a file shared in the dispute's thread."""
    name, mimetype = FILE_NAMES[kind]
    file_id = f"F{row['number']:07d}{rng.randrange(1_000):03d}"
    permalink = f"https://files.slack.com/files-pri/T0DISPUTES-{file_id}/{name}"
    payload: dict[str, Any] = {
        "file_id": file_id,
        "name": name,
        "mimetype": mimetype,
        "size": rng.randint(40_000, 4_000_000),
        "shared_by": agent,
    }
    if mimetype.startswith("image/"):
        payload["photos"] = [permalink]
    return EvidenceDraft(kind, f"slack:{agent}", f"{name} shared by <@{agent}>", payload, permalink)


def _evidence_row(dispute_id: int, draft: EvidenceDraft, at: datetime, added_by: str) -> Row:
    return {
        "dispute_id": dispute_id,
        "kind": draft.kind.value,
        "source": draft.source,
        "captured_at": draft.captured_at or at,
        "summary": draft.summary,
        "payload": draft.payload,
        "url": draft.url,
        "content_hash": content_hash(draft),
        "added_by": added_by,
    }


def intake_evidence(
    dispute_id: int, evidence: list[tuple[str, str, str, dict[str, Any], str | None]], at: datetime
) -> list[Row]:
    """The evidence the default sources filed at intake."""
    return [
        _evidence_row(
            dispute_id,
            EvidenceDraft(EvidenceKind(kind), source, summary, payload, url, at),
            at,
            "intake",
        )
        for kind, source, summary, payload, url in evidence
    ]


def tag_rows(row: Row, tags: list[tuple[str, str]], rules: tuple[str, ...]) -> list[Row]:
    """The dispute's tags as `disputes.tags.add_tags` stores them: the order's at intake, the
    rules its decision cited (made at intake, once the evidence was in)."""
    pairs = sorted({*tags, *(("rule", rule) for rule in rules)})
    return [
        {
            "dispute_id": row["id"],
            "dimension": dimension,
            "value": value[:200],
            "opened_at": row["created_at"],
            "added_at": row["created_at"],
        }
        for dimension, value in pairs
    ]


class Audit:
    """One dispute's audit entries, ordered by time and chained as `disputes.audit` does."""

    def __init__(self, number: int, dispute_id: int) -> None:
        self.number, self.dispute_id = number, dispute_id
        self.entries: list[tuple[datetime, int, Actor, str, dict[str, Any], Any]] = []

    def add(
        self,
        at: datetime,
        actor: Actor,
        action: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        early: bool = False,
    ) -> None:
        """An entry at `at`; among entries of one moment, `early` ones come first (written
        earlier in the same transaction), the rest in the order added."""
        order = len(self.entries) - (1 << 30 if early else 0)
        self.entries.append((at, order, actor, action, before or {}, after or {}))

    def rows(self) -> list[Row]:
        rows, prev = [], GENESIS
        for seq, (at, _, (actor_type, actor_id), action, before, after) in enumerate(
            sorted(self.entries, key=lambda e: (e[0], e[1])), start=1
        ):
            digest = entry_hash(
                dispute_number=self.number,
                seq=seq,
                at=at,
                actor_type=actor_type,
                actor_id=actor_id,
                action=action,
                before=before,
                after=after,
                prev_hash=prev,
            )
            rows.append(
                {
                    "dispute_id": self.dispute_id,
                    "seq": seq,
                    "at": at,
                    "actor_type": actor_type,
                    "actor_id": actor_id,
                    "action": action,
                    "before": before,
                    "after": after,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        return rows
