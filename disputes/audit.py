"""The append-only audit trail: one hash chain per dispute."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.tables import AuditRow, DisputeRow

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: a Slack user (with the user groups the roles file names that they
    are in), the customer, or the system itself."""

    kind: str
    id: str
    groups: frozenset[str] = field(default=frozenset(), compare=False)

    @classmethod
    def slack_user(cls, user_id: str, groups: Iterable[str] = ()) -> Actor:
        return cls("slack_user", user_id, frozenset(groups))

    @property
    def is_person(self) -> bool:
        """A person in Slack, whose permissions are checked (not the customer or the app)."""
        return self.kind == "slack_user"

    @classmethod
    def system(cls, component: str) -> Actor:
        return cls("system", component)

    @classmethod
    def customer(cls, customer_id: str) -> Actor:
        return cls("customer", customer_id)


@dataclass(frozen=True, slots=True)
class ChainProblem:
    dispute_number: int
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"D-{self.dispute_number} entry {self.seq}: {self.problem}"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(
    *,
    dispute_number: int,
    seq: int,
    at: datetime,
    actor_type: str,
    actor_id: str,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
    prev_hash: str,
) -> str:
    body = {
        "dispute": dispute_number,
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": [actor_type, actor_id],
        "action": action,
        "before": before,
        "after": after,
        "prev": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


async def append(
    session: AsyncSession,
    dispute: DisputeRow,
    actor: Actor,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditRow:
    """Add the next entry of the dispute's chain, inside the caller's transaction."""
    last = await session.scalar(
        select(AuditRow)
        .where(AuditRow.dispute_id == dispute.id)
        .order_by(AuditRow.seq.desc())
        .limit(1)
    )
    seq = 1 if last is None else last.seq + 1
    prev_hash = GENESIS if last is None else last.hash
    at = (at or datetime.now(UTC)).astimezone(UTC)
    before, after = before or {}, after or {}
    fields: dict[str, Any] = {
        "seq": seq,
        "at": at,
        "actor_type": actor.kind,
        "actor_id": actor.id,
        "action": action,
        "before": before,
        "after": after,
        "prev_hash": prev_hash,
    }
    row = AuditRow(
        dispute_id=dispute.id,
        hash=entry_hash(dispute_number=dispute.number, **fields),
        **fields,
    )
    session.add(row)
    await session.flush()
    return row


async def verify(session: AsyncSession, dispute_number: int | None = None) -> list[ChainProblem]:
    """Recompute every chain (or one dispute's); report each entry that does not add up."""
    query = select(DisputeRow.id, DisputeRow.number).order_by(DisputeRow.number)
    if dispute_number is not None:
        query = query.where(DisputeRow.number == dispute_number)
    problems: list[ChainProblem] = []
    for dispute_id, number in (await session.execute(query)).all():
        rows = await session.scalars(
            select(AuditRow).where(AuditRow.dispute_id == dispute_id).order_by(AuditRow.seq)
        )
        problems.extend(_verify_chain(number, list(rows)))
    return problems


def _verify_chain(number: int, rows: list[AuditRow]) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    if not rows:
        return [ChainProblem(number, 0, "no audit entries at all")]
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            problems.append(ChainProblem(number, expected_seq, f"missing; found {row.seq} next"))
            break
        if row.prev_hash != prev:
            problems.append(ChainProblem(number, row.seq, "does not link to the entry before"))
        recomputed = entry_hash(
            dispute_number=number,
            seq=row.seq,
            at=row.at,
            actor_type=row.actor_type,
            actor_id=row.actor_id,
            action=row.action,
            before=row.before,
            after=row.after,
            prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            problems.append(ChainProblem(number, row.seq, "content changed after it was written"))
        prev = row.hash
    return problems
