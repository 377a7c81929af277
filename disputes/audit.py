"""The append-only audit trail: one hash chain per dispute."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction, SessionTransactionOrigin

from storage.tables import AuditRow, DisputeRow, core

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


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry to add to a dispute's chain, its time taken when it was made."""

    actor: Actor
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    at: datetime


class Chain:
    """The next entries of one dispute's chain, added in one statement by `write`."""

    def __init__(
        self,
        session: AsyncSession,
        dispute: DisputeRow,
        *,
        last: tuple[int | None, str | None] | None = None,
    ) -> None:
        """`last`: the chain's last entry (seq, hash) when it was read with the dispute's row
        (`LAST_SEQ`, `LAST_HASH`; both None for a chain without entries); else it is looked
        up when needed."""
        self.session = session
        self.dispute = dispute
        self.entries: list[Entry] = []
        # The chain's last entry, once looked up.
        self._read: tuple[int, str] | None = None
        if last is not None:
            seq, hash_ = last
            self._read = (0, GENESIS) if seq is None else (int(seq), str(hash_))

    async def last_seq(self) -> int:
        """The seq of the chain's last entry so far (0: none); the entries added here follow
        it, without looking it up again."""
        return (await self._tail())[0]

    async def _tail(self) -> tuple[int, str]:
        known = _tails(self.session).get(self.dispute.id)  # written in this transaction
        if known is not None:
            return known
        if self._read is None:
            self._read = await _tail(self.session, self.dispute)
        return self._read

    def add(
        self,
        actor: Actor,
        action: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> None:
        at = (at or datetime.now(UTC)).astimezone(UTC)
        self.entries.append(Entry(actor, action, before or {}, after or {}, at))

    async def write(self) -> None:
        """Add the entries, in order, after the last one of the chain, inside the caller's
        transaction (whose pending changes are flushed first, as each entry follows them)."""
        if not self.entries:
            return
        session, dispute = self.session, self.dispute
        await session.flush()
        seq, prev_hash = await self._tail()
        rows: list[dict[str, Any]] = []
        for entry in self.entries:
            seq += 1
            fields: dict[str, Any] = {
                "seq": seq,
                "at": entry.at,
                "actor_type": entry.actor.kind,
                "actor_id": entry.actor.id,
                "action": entry.action,
                "before": entry.before,
                "after": entry.after,
                "prev_hash": prev_hash,
            }
            prev_hash = entry_hash(dispute_number=dispute.number, **fields)
            rows.append({"dispute_id": dispute.id, "hash": prev_hash, **fields})
        await session.execute(_INSERT, rows)
        _tails(session)[dispute.id] = (seq, prev_hash)
        self.entries.clear()


def written_seq(session: AsyncSession, dispute: DisputeRow) -> int:
    """The seq of the last entry this transaction added to the dispute's chain (0: none)."""
    return _tails(session).get(dispute.id, (0, GENESIS))[0]


def new_chain(session: AsyncSession, dispute: DisputeRow) -> Chain:
    """The chain of a dispute created in this transaction: it has no entries to look up."""
    _tails(session)[dispute.id] = (0, GENESIS)
    return Chain(session, dispute)


async def append(
    session: AsyncSession,
    dispute: DisputeRow,
    actor: Actor,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Add the next entry of the dispute's chain, inside the caller's transaction."""
    chain = Chain(session, dispute)
    chain.add(actor, action, before=before, after=after, at=at)
    await chain.write()


# The last (seq, hash) of each chain this transaction wrote to, so that the next entry needs
# no look-up: once a transaction has added an entry, no other can add one after it (the unique
# (dispute, seq) key holds the place) until it ends. Forgotten when the transaction or a
# savepoint ends, and on any rollback.
_TAILS = "audit_tails"


def _tails(session: AsyncSession) -> dict[int, tuple[int, str]]:
    tails: dict[int, tuple[int, str]] = session.info.setdefault(_TAILS, {})
    return tails


async def _tail(session: AsyncSession, dispute: DisputeRow) -> tuple[int, str]:
    known = _tails(session).get(dispute.id)
    if known is not None:
        return known
    last = (await session.execute(_LAST, {"dispute_id": dispute.id})).first()
    return (0, GENESIS) if last is None else (last.seq, last.hash)


_INSERT = insert(core(AuditRow))


def _of_last_entry(column: Any) -> Any:
    return (
        select(column)
        .where(AuditRow.dispute_id == DisputeRow.id)
        .order_by(AuditRow.seq.desc())
        .limit(1)
        .scalar_subquery()
    )


# The last entry of the chain of the dispute a statement selects (by correlation): read with
# its row, the chain needs no look-up of its own before adding to it.
LAST_SEQ, LAST_HASH = _of_last_entry(AuditRow.seq), _of_last_entry(AuditRow.hash)
_LAST = (
    select(AuditRow.seq, AuditRow.hash)
    .where(AuditRow.dispute_id == bindparam("dispute_id"))
    .order_by(AuditRow.seq.desc())
    .limit(1)
)


@event.listens_for(Session, "after_transaction_end")
def _forget_tails(session: Session, transaction: SessionTransaction) -> None:
    if transaction.origin is not SessionTransactionOrigin.SUBTRANSACTION:  # not a flush's
        session.info.pop(_TAILS, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, _transaction: SessionTransaction) -> None:
    session.info.pop(_TAILS, None)


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
