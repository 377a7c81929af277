"""The schema: one declarative class per table."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


def core(model: type[Base]) -> Table:
    """The table of `model`, for hot-path statements that need no ORM objects."""
    return cast(Table, model.__table__)


class Counter(Base):
    """Gapless counters (human dispute numbers), incremented inside the using transaction."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


# What insights read of the disputes resolved in a period and of the offers decided in one.
RESOLVED_FACTS = [
    "id",
    "created_at",
    "reason",
    "owner_id",
    "resolve_business_seconds",
    "reopened_at",
    "offers_made",
    "offers_declined",
    "followed_at",
    "resolution",
    "surveyed",
    "csat_rating",
]
OFFER_FACTS = ["status", "created_at", "answered_at", "basis"]


class DisputeRow(Base):
    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    order_id: Mapped[str] = mapped_column(String(100), index=True)
    # Set to the order id while the dispute is open, NULL once closed: one open dispute per order.
    active_order_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    customer_id: Mapped[str | None] = mapped_column(String(100))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(40))
    claim: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3))
    order_total_minor: Mapped[int] = mapped_column(BigInteger)
    disputed_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    owner_id: Mapped[str | None] = mapped_column(String(40))
    opened_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(30), index=True)
    state_times: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    required_evidence: Mapped[list[str]] = mapped_column(JSON, default=list)
    channel_id: Mapped[str | None] = mapped_column(String(40))
    thread_ts: Mapped[str | None] = mapped_column(String(40))
    evidence_card_ts: Mapped[str | None] = mapped_column(String(40))
    policy_card_ts: Mapped[str | None] = mapped_column(String(40))
    # The order as it was read at intake: policy facts are recomputed from it.
    order_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Set when the dispute is resolved, cleared when the customer's closing message is queued.
    closing_due_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The customer's disputes opened before this one (a priority fact), counted at intake.
    prior_disputes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The service-level clock, kept by `disputes.sla_clock` on every change and by the scan:
    # the stage whose clock runs (NULL once closed), when it was entered, when it is due, its
    # level (ok, warning, breached) and when the scan should look again (NULL: never).
    sla_stage: Mapped[str | None] = mapped_column(String(30))
    sla_entered_at: Mapped[datetime | None]
    sla_due_at: Mapped[datetime | None]
    sla_level: Mapped[str] = mapped_column(String(10), default="ok", server_default="ok")
    sla_check_at: Mapped[datetime | None]
    # Milestones for insights, kept by `disputes.milestones` on every change: when the dispute
    # was first resolved (never cleared) and how many business seconds that took, when it was
    # first reopened after that, and when it last closed (NULL while open).
    resolved_at: Mapped[datetime | None]
    resolve_business_seconds: Mapped[int | None] = mapped_column(BigInteger)
    reopened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # What first-contact resolution, the resolutions and CSAT count, kept by
    # `disputes.insight_facts` after each write: offers made and declined, the first dispute
    # opened on the same order after the first resolution, the kind of the last approved
    # proposal.
    offers_made: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    offers_declined: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    followed_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(30))
    # And CSAT: whether a survey was sent, and its rating once answered.
    surveyed: Mapped[bool] = mapped_column(default=False, server_default=false())
    csat_rating: Mapped[int | None] = mapped_column(Integer)
    # The thread outbox (`disputes.thread_outbox`): while the parent message or a card is not in
    # Slack yet, when to try next (NULL: nothing due); the claim of whoever posts it now (until
    # when, and its fence); how many tries it took and the last error.
    thread_due_at: Mapped[datetime | None]
    thread_lease_until: Mapped[datetime | None]
    thread_fence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    thread_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    thread_error: Mapped[str | None] = mapped_column(String(200))

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_disputes_sla_check", "sla_check_at"),
        Index("ix_disputes_owner_due", "owner_id", "sla_due_at"),
        Index("ix_disputes_level_due", "sla_level", "sla_due_at"),
        # On PostgreSQL insights read these three from the index alone.
        Index("ix_disputes_created_at", "created_at", postgresql_include=["reason"]),
        Index("ix_disputes_resolved_at", "resolved_at", postgresql_include=RESOLVED_FACTS),
        Index(
            "ix_disputes_closed_at",
            "closed_at",
            postgresql_include=["created_at", "owner_id", "priority"],
        ),
        Index("ix_disputes_thread_due", "thread_due_at"),
        # A reply, an edit or a click in a thread finds its dispute by the thread.
        Index("ix_disputes_thread", "channel_id", "thread_ts"),
        # Each intake counts the customer's earlier disputes while it holds the counter.
        Index("ix_disputes_customer", "customer_id"),
    )


class EvidenceRow(Base):
    __tablename__ = "evidence_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(100))
    captured_at: Mapped[datetime]
    summary: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    url: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    added_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_evidence_dispute_kind", "dispute_id", "kind"),
        UniqueConstraint("dispute_id", "content_hash", name="uq_evidence_dispute_content"),
    )


class AuditRow(Base):
    """Append-only; each row carries the hash of the previous row of the same dispute."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("dispute_id", "seq", name="uq_audit_dispute_seq"),)


class PolicyDecisionRow(Base):
    """Each decision the policy engine made for a dispute, with the pack it was made under."""

    __tablename__ = "policy_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="RESTRICT"))
    pack_name: Mapped[str] = mapped_column(String(100))
    pack_version: Mapped[str] = mapped_column(String(60))
    pack_hash: Mapped[str] = mapped_column(String(64))
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)
    decision_hash: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime]

    __table_args__ = (Index("ix_policy_decisions_dispute", "dispute_id", "id"),)


class ProposalRow(Base):
    """A proposed resolution, awaiting approval; one open proposal per dispute at a time."""

    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(30))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(Text, default="")
    justification: Mapped[str | None] = mapped_column(Text)
    outside_policy: Mapped[bool] = mapped_column(default=False)
    needs_supervisor: Mapped[bool] = mapped_column(default=False)
    proposed_by: Mapped[str] = mapped_column(String(40))
    proposed_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))  # open, approved, changes_requested
    decided_by: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None]
    message_ts: Mapped[str | None] = mapped_column(String(40))
    number: Mapped[int]  # counted within the dispute: "Proposal 2 for D-7"
    override_reason: Mapped[str | None] = mapped_column(Text)  # why review went on without evidence
    decision_reason: Mapped[str | None] = mapped_column(Text)  # why changes were requested
    alert_channel: Mapped[str | None] = mapped_column(String(40))  # the supervisors' alert
    alert_ts: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        Index("ix_proposals_dispute", "dispute_id", "id"),
        UniqueConstraint("dispute_id", "number", name="uq_proposals_dispute_number"),
    )


class RefundLedgerRow(Base):
    """Per payment: what was paid, what the order system says it refunded, and the provider's
    own refunds as last read. One row per payment, locked by whoever commits money against it."""

    __tablename__ = "refund_ledger"

    payment_reference: Mapped[str] = mapped_column(String(120), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    paid_minor: Mapped[int] = mapped_column(BigInteger)
    # The most the order system has ever said it refunded on this payment.
    order_claim_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # The provider's refunds on the payment (every one, whoever made it), as last read.
    provider_refunds: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    provider_read_at: Mapped[datetime | None]
    provider_error: Mapped[str | None] = mapped_column(Text)


class RefundRequestRow(Base):
    """The outbox: a refund to execute exactly once, written with the approval that asked for it.

    `fence` grows by one with every claim; a worker writes an outcome only while the row still
    carries the fence it claimed with.
    """

    __tablename__ = "refund_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="RESTRICT"))
    payment_reference: Mapped[str] = mapped_column(
        ForeignKey("refund_ledger.payment_reference", ondelete="RESTRICT")
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    gateway: Mapped[str] = mapped_column(String(60))
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    # The request's id in the provider's metadata, unique beyond this database.
    provider_ref: Mapped[str] = mapped_column(String(80), index=True)
    # pending, in_flight, unknown, succeeded, failed, canceled
    status: Mapped[str] = mapped_column(String(20), index=True)
    # "ledger": capped by paid minus everything refunded; "provider": by the provider's refunds
    # alone (re-sending a refund the order system made that never reached the customer).
    basis: Mapped[str] = mapped_column(String(20), default="ledger")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    fence: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    sends: Mapped[int] = mapped_column(Integer, default=0)
    # The last moment a send of this request may still have been on its way to the provider:
    # set as the POST goes out, moved on when the worker stops waiting for its answer (or to the
    # last renewal of a claim whose worker died). The settling time counts from here.
    last_in_flight_at: Mapped[datetime | None]
    unknown_since: Mapped[datetime | None]
    attention: Mapped[str | None] = mapped_column(String(40))
    provider_refund_id: Mapped[str | None] = mapped_column(String(120))
    provider_refund_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100))
    proposed_by: Mapped[str | None] = mapped_column(String(100))
    proposal_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_refund_requests_payment", "payment_reference"),
        # A case file sums the dispute's succeeded refunds (its outcome, its order's others).
        Index("ix_refund_requests_dispute", "dispute_id", "status"),
    )


class ProcessedRequestRow(Base):
    """Slack requests already taken, so retries and replays are processed once."""

    __tablename__ = "processed_slack_requests"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    received_at: Mapped[datetime] = mapped_column(index=True)


class CustomerMessageRow(Base):
    """The customer outbox: every message to a dispute's customer, stored before it is sent.

    `message_id` is the message's identity on the wire (the mail's Message-ID, the webhook's
    Idempotency-Key) and never changes, so a message sent again after a crash is recognised by
    the receiver. `fence` grows by one with every claim; only the claim holding it records the
    outcome of a send.
    """

    __tablename__ = "customer_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20))  # message, offer, reminder, closing
    template: Mapped[str] = mapped_column(String(120))
    # What the message is for, unique within its dispute: "closing:p12", "offer:3", "manual:<n>".
    purpose: Mapped[str] = mapped_column(String(80))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    to_address: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    references: Mapped[list[str]] = mapped_column(JSON, default=list)
    # pending, sending, sent, failed (a definite refusal: a person looks)
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    fence: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime]
    # True once a send may have reached the other side: every later send is a re-send.
    maybe_sent: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    offer_id: Mapped[int | None] = mapped_column(Integer)
    proposal_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The thread message that mirrors it, and what that message last said.
    mirror_ts: Mapped[str | None] = mapped_column(String(40))
    mirrored: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        UniqueConstraint("dispute_id", "purpose", name="uq_customer_messages_purpose"),
        Index("ix_customer_messages_due", "status", "next_attempt_at"),
    )


class CustomerOfferRow(Base):
    """An approved proposal put to the customer: answered once, before it expires."""

    __tablename__ = "customer_offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="RESTRICT"))
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="RESTRICT"))
    nonce: Mapped[str] = mapped_column(String(40))
    # open, accepted, declined, expired, withdrawn
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    reminder_due_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(Text)
    # The evidence kinds on file and the rules cited when the offer was made (JSON, canonical:
    # {"kinds": [...], "rules": [...]} sorted), kept by `disputes.insight_facts`.
    basis: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("proposal_id", name="uq_customer_offers_proposal"),
        Index("ix_customer_offers_dispute", "dispute_id"),
        Index("ix_customer_offers_answered", "answered_at", postgresql_include=OFFER_FACTS),
        Index("ix_customer_offers_expires", "expires_at", postgresql_include=OFFER_FACTS),
    )


class CsatRow(Base):
    """The satisfaction survey sent with the closing message: one rating per dispute."""

    __tablename__ = "csat_surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(
        ForeignKey("disputes.id", ondelete="RESTRICT"), unique=True
    )
    nonce: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]


class LinkKeyRow(Base):
    """The key that signs the customer's links, made once per installation."""

    __tablename__ = "link_keys"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class ThreadNoteRow(Base):
    """A person's text reply in a dispute's thread: an internal note, never sent to the
    customer. An edit moves the earlier text into `history`; a deletion only marks it."""

    __tablename__ = "thread_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="RESTRICT"))
    channel_id: Mapped[str] = mapped_column(String(40))
    message_ts: Mapped[str] = mapped_column(String(40))
    author: Mapped[str] = mapped_column(String(40))  # the Slack user id
    text: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    # Earlier texts, oldest first: {"text": ..., "until": ISO time it was replaced}.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    __table_args__ = (
        UniqueConstraint("channel_id", "message_ts", name="uq_thread_notes_message"),
        Index("ix_thread_notes_dispute", "dispute_id", "id"),
    )


class AlertDigestRow(Base):
    """One message of alerts (`kind` digest), the day's summary (`kind` summary) or the weekly
    insights report (`kind` weekly); `key` makes each one once per cluster: "digest:<scan
    fence>:<random id>", "summary:<date>" (one a day), "weekly:<YYYY-Www>" (one an ISO week)."""

    __tablename__ = "alert_digests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime]
    # What the message says beyond its alerts (the summary's counts), as it was when made.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AlertPostRow(Base):
    """A digest's delivery to one destination (the supervisors' channel or a person's DM):
    pending until Slack answered with the message's ts, retried by later scans until then."""

    __tablename__ = "alert_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("alert_digests.id", ondelete="RESTRICT"))
    destination: Mapped[str] = mapped_column(String(40))
    channel_id: Mapped[str | None] = mapped_column(String(40))
    message_ts: Mapped[str | None] = mapped_column(String(40))
    posted_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("digest_id", "destination", name="uq_alert_posts_destination"),
        Index("ix_alert_posts_pending", "posted_at", "id"),
    )


class SlaAlertRow(Base):
    """An alert, raised once per (subject, kind, stage): a dispute's stage at warning or
    breached, an unassigned high-priority dispute, a refund needing attention, a person over
    their cap. `state`: pending (waits for a digest), sent, snoozed (back when `snoozed_until`
    passes and it still holds), dropped (it stopped holding before it was sent)."""

    __tablename__ = "sla_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int | None] = mapped_column(ForeignKey("disputes.id", ondelete="RESTRICT"))
    subject: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(30))
    stage: Mapped[str] = mapped_column(String(40))
    raised_at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_digests.id", ondelete="RESTRICT")
    )
    state: Mapped[str] = mapped_column(String(20))
    snoozed_until: Mapped[datetime | None] = mapped_column(index=True)
    snoozed_by: Mapped[str | None] = mapped_column(String(40))
    snoozes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        UniqueConstraint("subject", "kind", "stage", name="uq_sla_alerts_once"),
        Index("ix_sla_alerts_state", "state", "id"),
    )


class SchedulerLeaseRow(Base):
    """A scheduled job's lease: the replica holding it runs the job until `expires_at`; `fence`
    grows with every new holder, and the holder's writes check it."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    fence: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    expires_at: Mapped[datetime | None]


class DisputeTagRow(Base):
    """What a dispute is about, for recurring reasons: the SKUs and categories returned, the
    carriers that shipped them (from the order at intake), and the policy rules cited (`rule`,
    added when a decision first cites them). `opened_at` is the dispute's, so a period's groups
    are counted from this table alone."""

    __tablename__ = "dispute_tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="RESTRICT"))
    dimension: Mapped[str] = mapped_column(String(20))  # sku, category, carrier, rule
    value: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime]
    added_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("dispute_id", "dimension", "value", name="uq_dispute_tags_value"),
        Index("ix_dispute_tags_dimension_opened", "dimension", "opened_at"),
        Index("ix_dispute_tags_opened", "opened_at", postgresql_include=["dimension", "value"]),
    )


class DisputeTagDayRow(Base):
    """How many disputes opened on each UTC day carry each tag: what recurring groups count over
    the whole days of a period (the partial days at its ends are read from `dispute_tags`).
    Kept by `disputes.insight_facts` in the transaction that writes the tags."""

    __tablename__ = "dispute_tag_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    disputes: Mapped[int] = mapped_column(Integer)


class SlaStageRunRow(Base):
    """One finished run of a dispute's service-level clock: the stage, when it was entered and
    due, when it was left, and whether it was left after it was due (a breach)."""

    __tablename__ = "sla_stage_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id", ondelete="RESTRICT"))
    stage: Mapped[str] = mapped_column(String(30))
    priority: Mapped[str] = mapped_column(String(10))
    entered_at: Mapped[datetime]
    due_at: Mapped[datetime]
    left_at: Mapped[datetime]
    breached: Mapped[bool]

    __table_args__ = (
        Index("ix_sla_stage_runs_left", "left_at", postgresql_include=["stage", "breached"]),
    )
