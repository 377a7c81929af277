"""The thread outbox: a dispute whose thread (parent message and cards) is not in Slack yet says
so (`thread_due_at`), and a background loop posts it when nobody else did.

Whoever posts a thread first claims it with a conditional update: a new fence and a lease
(`thread_lease_until`), so two replicas never post the same thread at once. A new dispute is
written already claimed by the request that opened it (`claim_new`), which posts it at once;
the loop takes what is due (`FOR UPDATE SKIP LOCKED` on PostgreSQL). Only the claim's holder
records the outcome: done (nothing due any more) or failed (due again after a backoff). A
claim whose holder died lapses with its lease.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from disputes.background import WakeableLoop
from disputes.payments import utcnow
from storage.db import Database, on_postgresql
from storage.tables import DisputeRow, core

log = logging.getLogger(__name__)

# A new dispute's thread is due this long after intake: the request that opened it posts it
# first, and the outbox steps in only when that never happened (the process stopped); when
# intake claimed the thread for that request (`claim_new`), once the claim's lease lapses.
FIRST_POST_GRACE = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class ThreadTimings:
    # Longer than a post may take, Slack's rate limits waited out included.
    lease: timedelta = timedelta(minutes=4)
    poll_seconds: float = 5.0
    first_retry: timedelta = timedelta(seconds=1)
    longest_retry: timedelta = timedelta(minutes=2)

    def backoff(self, attempts: int) -> timedelta:
        return min(self.first_retry * (2 ** max(attempts - 1, 0)), self.longest_retry)


Claim = tuple[int, int]  # the dispute's number and the claim's fence


class ThreadClaims:
    def __init__(
        self,
        db: Database,
        timings: ThreadTimings | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.timings = timings or ThreadTimings()
        self.clock = clock

    def _free(self, now: datetime) -> Any:
        lease = DisputeRow.thread_lease_until
        return or_(lease.is_(None), lease <= now)

    def claim_new(self, row: DisputeRow) -> int:
        """Claim the thread of a dispute being written in the caller's transaction, for the
        request that opens it to post; the claim's fence. Should that request never post it,
        the thread outbox takes it over once the lease lapses."""
        row.thread_fence = 1
        row.thread_lease_until = self.clock() + self.timings.lease
        row.thread_attempts = 1
        return row.thread_fence

    async def claim(self, number: int) -> int | None:
        """The fence of a new claim on the dispute's thread, if something of it is still to
        post (it is due, now or later, or it lacks its parent or evidence card) and nobody
        holds it; None otherwise (nothing to post, or someone posts it now)."""
        now = self.clock()
        until = now + self.timings.lease
        async with self.db.transaction() as session:
            fence = await session.scalar(_CLAIM, {"n": number, "now": now, "until": until})
        return None if fence is None else int(fence)

    async def claim_due(self, limit: int) -> list[Claim]:
        """Claims on up to `limit` threads due by now that nobody holds, the longest due
        first; rows another replica is claiming are skipped, not waited for."""
        now = self.clock()
        due = and_(DisputeRow.thread_due_at <= now, self._free(now))
        async with self.db.transaction() as session:
            query = (
                select(DisputeRow.number, DisputeRow.thread_fence)
                .where(due)
                .order_by(DisputeRow.thread_due_at, DisputeRow.number)
                .limit(limit)
            )
            if on_postgresql(session):
                query = query.with_for_update(skip_locked=True)
            claimed: list[Claim] = []
            for number, fence in (await session.execute(query)).all():
                result = cast(
                    CursorResult[Any],
                    await session.execute(
                        self._claiming(now).where(
                            DisputeRow.number == number, DisputeRow.thread_fence == fence, due
                        )
                    ),
                )
                if result.rowcount == 1:
                    claimed.append((int(number), int(fence) + 1))
            return claimed

    def _claiming(self, now: datetime) -> Any:
        return (
            update(DisputeRow)
            .values(
                thread_fence=DisputeRow.thread_fence + 1,
                thread_lease_until=now + self.timings.lease,
                thread_attempts=DisputeRow.thread_attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )

    async def posted(self, number: int, fence: int) -> bool:
        """The thread is all in Slack: nothing is due. False when the claim was lost."""
        return await self._release(number, fence, thread_due_at=None, thread_error=None)

    async def posted_in(self, session: AsyncSession, number: int, fence: int) -> bool:
        """`posted`, in the caller's transaction (with what the thread's last post wrote)."""
        return await _released(session, number, fence, thread_due_at=None, thread_error=None)

    async def failed(self, number: int, fence: int, error: str) -> datetime | None:
        """Due again after a backoff; when, or None when the claim was lost."""
        async with self.db.reading() as session:
            attempts = await session.scalar(
                select(DisputeRow.thread_attempts).where(DisputeRow.number == number)
            )
        due = self.clock() + self.timings.backoff(int(attempts or 1))
        released = await self._release(number, fence, thread_due_at=due, thread_error=error[:200])
        return due if released else None

    async def _release(self, number: int, fence: int, **values: Any) -> bool:
        async with self.db.transaction() as session:
            return await _released(session, number, fence, **values)

    async def next_due(self) -> datetime | None:
        """When the next thread falls due (for a claimed one: when its lease lapses)."""
        now = self.clock()
        lease = DisputeRow.thread_lease_until
        async with self.db.reading() as session:
            return await session.scalar(
                select(func.min(case((lease > now, lease), else_=DisputeRow.thread_due_at))).where(
                    DisputeRow.thread_due_at.is_not(None)
                )
            )

    async def due_count(self) -> int:
        """How many threads are not all in Slack yet."""
        async with self.db.reading() as session:
            count = await session.scalar(
                select(func.count()).where(DisputeRow.thread_due_at.is_not(None))
            )
            return int(count or 0)


# The hot statements of a thread's claim, built once (building costs more CPU than running
# them): claiming a thread that lacks something and nobody holds, and ending a claim.
_T = core(DisputeRow)
_CLAIM = (
    update(_T)
    .where(
        _T.c.number == bindparam("n"),
        or_(
            _T.c.thread_due_at.is_not(None),
            _T.c.thread_ts.is_(None),
            _T.c.evidence_card_ts.is_(None),
        ),
        or_(_T.c.thread_lease_until.is_(None), _T.c.thread_lease_until <= bindparam("now")),
    )
    .values(
        thread_fence=_T.c.thread_fence + 1,
        thread_lease_until=bindparam("until"),
        thread_attempts=_T.c.thread_attempts + 1,
    )
    .returning(_T.c.thread_fence)
)
_RELEASE = (
    update(_T)
    .where(_T.c.number == bindparam("n"), _T.c.thread_fence == bindparam("fence"))
    .values(
        thread_lease_until=None,
        thread_due_at=bindparam("due"),
        thread_error=bindparam("error"),
    )
)


async def _released(
    session: AsyncSession, number: int, fence: int, *, thread_due_at: Any, thread_error: Any
) -> bool:
    """End the claim `fence` on the dispute's thread, recording when it is due again and why
    (None: nothing is due); False (and nothing recorded) when the claim was lost."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            _RELEASE, {"n": number, "fence": fence, "due": thread_due_at, "error": thread_error}
        ),
    )
    if result.rowcount != 1:
        log.warning("D-%d: the claim on its thread was lost; outcome not recorded", number)
        return False
    return True


Post = Callable[[int, int], Awaitable[object]]


class ThreadOutbox(WakeableLoop):
    """Posts the threads that are due, `concurrency` at a time, until none is; then waits for
    the next one due (at most `poll_seconds`), or for `wake()` after a failed post."""

    def __init__(self, claims: ThreadClaims, post: Post, *, concurrency: int = 2) -> None:
        super().__init__()
        self.claims = claims
        self.post = post  # posts a claimed thread and records the outcome under its claim
        self.concurrency = concurrency
        self._stopping = False

    async def _loop(self) -> None:
        while not self._stopping:
            await self.pause(await self.run_once())

    async def run_once(self) -> float:
        """Post every thread due now; the seconds until the next one is due."""
        poll = self.claims.timings.poll_seconds
        try:
            while not self._stopping and (batch := await self.claims.claim_due(self.concurrency)):
                await asyncio.gather(*(self._post(number, fence) for number, fence in batch))
            upcoming = await self.claims.next_due()
        except Exception:
            log.exception("the thread outbox could not be read; polling again")
            return poll
        if upcoming is None:
            return poll
        return min(poll, max((upcoming - self.claims.clock()).total_seconds(), 0.05))

    async def _post(self, number: int, fence: int) -> None:
        try:
            await self.post(number, fence)
        except Exception as exc:
            log.warning(
                "the thread of D-%d is not posted yet (%s); trying again later", number, exc
            )

    async def stop(self, grace: float = 10.0) -> None:
        """Let the posts under way finish (for at most `grace` seconds), then stop."""
        self._stopping = True
        self.wake()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=grace)
            if not done:
                log.warning("stopping the thread outbox with a post under way")
        await super().stop()
