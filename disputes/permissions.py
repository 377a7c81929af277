"""The one place a service asks whether a person may do something: the roles file's permission
table, as it is now; a refusal on a dispute is audited."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from disputes import audit
from disputes.audit import Actor
from disputes.errors import NotAllowed
from disputes.models import dispute_ref
from disputes.repository import load_row
from disputes.roles import CurrentRoles, Roles
from domain.evidence import EvidenceKind
from domain.roles import Action
from storage.db import Database

log = logging.getLogger(__name__)


class Gate:
    """Checks people (the customer and the app itself are not checked here)."""

    def __init__(self, db: Database, roles: Roles | CurrentRoles) -> None:
        self.db = db
        self.roles = roles

    def may(self, action: Action, actor: Actor, kind: EvidenceKind | None = None) -> bool:
        if not actor.is_person:
            return True
        return self.roles.current().may(action, actor.id, actor.groups, kind=kind)

    async def require(
        self,
        action: Action,
        actor: Actor,
        *,
        number: int | None = None,
        kind: EvidenceKind | None = None,
        refused: str | None = None,
    ) -> None:
        """Raise `NotAllowed` unless the actor may; a refusal on a dispute is audited."""
        if not actor.is_person:
            return
        where = dispute_ref(number) if number is not None else ""
        try:
            self.roles.current().require(
                action, actor.id, actor.groups, kind=kind, where=where, refused=refused
            )
        except NotAllowed as refused:
            log.info("refused %s to %s%s", action.value, actor.id, f" on {where}" if where else "")
            if number is not None:
                await self._audit(number, actor, action, kind, str(refused))
            raise

    async def _audit(
        self,
        number: int,
        actor: Actor,
        action: Action,
        kind: EvidenceKind | None,
        reason: str,
    ) -> None:
        async def work(session: AsyncSession) -> None:
            row = await load_row(session, number)
            after = {"action": action.value, "reason": reason}
            if kind is not None:
                after["kind"] = kind.value
            await audit.append(session, row, actor, "permission.refused", after=after)

        await self.db.run(work)
