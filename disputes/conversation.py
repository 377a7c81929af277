"""F5 outgoing: a person writes to the customer from the thread. They pick a template (the
general ones and the notices of the rules the dispute matched), see it rendered with the
dispute's facts, edit it and send it through the outbox.

A template that needs a fact the dispute lacks is refused in the preview, naming the fact: a
message is never sent with a blank in it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from disputes.audit import Actor
from disputes.customer_messages import (
    ConversationConfig,
    CustomerMessage,
    NoCustomerAddress,
    messages_of,
    queue_message,
    to_message,
)
from disputes.errors import DisputeError
from disputes.message_facts import dispute_facts
from disputes.models import dispute_ref
from disputes.payments import utcnow
from disputes.permissions import Gate
from disputes.policy_decisions import latest_decision
from disputes.repository import load_row
from domain.roles import Action
from domain.text import clean_text
from policies.messages import (
    MessageError,
    MessageTemplates,
    MissingFact,
    TemplateChoice,
    UnknownTemplate,
)
from storage.db import Database
from storage.tables import CustomerMessageRow, DisputeRow, ProposalRow

MAX_SUBJECT = 200
MAX_TEXT = 10_000

__all__ = ["ConversationService", "Draft", "MissingFact", "Preview", "missing_fact_text"]


@dataclass(frozen=True, slots=True)
class Preview:
    """A template rendered for one dispute, or the fact it lacks."""

    key: str
    subject: str
    text: str
    missing: str | None = None  # the fact the template needs that the dispute lacks

    @property
    def ok(self) -> bool:
        return self.missing is None


@dataclass(frozen=True, slots=True)
class Draft:
    """What the composer opens with."""

    dispute_number: int
    to_address: str
    to_name: str | None
    choices: list[TemplateChoice]
    preview: Preview | None


class ConversationService:
    def __init__(
        self,
        db: Database,
        templates: Callable[[], MessageTemplates],
        config: ConversationConfig,
        *,
        gate: Gate | None = None,
        on_queued: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.templates = templates
        self.config = config
        self.gate = gate
        self.on_queued = on_queued
        self.clock = clock

    async def _require(self, actor: Actor, number: int) -> None:
        if self.gate is not None:
            await self.gate.require(Action.MESSAGE_CUSTOMER, actor, number=number)

    async def draft(self, number: int, actor: Actor, key: str | None = None) -> Draft:
        """The templates to pick from and the first (or `key`) rendered."""
        await self._require(actor, number)
        async with self.db.reading() as session:
            row = await load_row(session, number)
            if not row.customer_email:
                raise NoCustomerAddress(number)
            decision = await latest_decision(session, row)
            rule_ids = [rule.id for rule in decision.matched] if decision else []
            choices = self.templates().choices(rule_ids)
            chosen = key or (choices[0].key if choices else None)
            preview = await self._preview(session, row, chosen) if chosen else None
            return Draft(number, row.customer_email, row.customer_name, choices, preview)

    async def preview(self, number: int, key: str, actor: Actor) -> Preview:
        await self._require(actor, number)
        async with self.db.reading() as session:
            return await self._preview(session, await load_row(session, number), key)

    async def send(
        self, number: int, key: str, subject: str, text: str, actor: Actor
    ) -> CustomerMessage:
        """Queue the (edited) message; the template must still render for this dispute."""
        await self._require(actor, number)
        subject = " ".join(clean_text(subject).split())[:MAX_SUBJECT]
        text = clean_text(text).strip()
        if not subject:
            raise DisputeError("Write a subject for the message.")
        if not text:
            raise DisputeError("The message is empty: write what the customer should read.")
        if len(text) > MAX_TEXT:
            raise DisputeError(f"The message is longer than {MAX_TEXT:,} characters.")

        async def work(session: AsyncSession) -> CustomerMessage:
            row = await load_row(session, number)
            preview = await self._preview(session, row, key)
            if preview.missing is not None:
                raise DisputeError(missing_fact_text(number, key, preview.missing))
            queued = await queue_message(
                session,
                row,
                config=self.config,
                kind="message",
                template=key,
                purpose=f"manual:{uuid.uuid4().hex[:20]}",
                subject=subject,
                body=text,
                actor=actor,
                at=self.clock(),
            )
            return to_message(queued, number)

        message = await self.db.run(work)
        self.on_queued()
        return message

    async def message(self, number: int, message_id: int) -> CustomerMessage:
        """One message of the dispute, for the thread's "Show message"."""
        async with self.db.reading() as session:
            row = await load_row(session, number)
            found = await session.get(CustomerMessageRow, message_id)
            if found is None or found.dispute_id != row.id:
                raise DisputeError(f"{dispute_ref(number)} has no such message.")
            return to_message(found, number)

    async def messages(self, number: int) -> list[CustomerMessage]:
        async with self.db.reading() as session:
            return await messages_of(session, await load_row(session, number))

    async def record_mirror(self, message_id: int, ts: str, mirrored: str) -> None:
        """The thread message that shows this message, and what it last said."""

        async def work(session: AsyncSession) -> None:
            found = await session.get(CustomerMessageRow, message_id)
            if found is not None:
                found.mirror_ts, found.mirrored = ts, mirrored

        await self.db.run(work)

    async def _preview(self, session: AsyncSession, row: DisputeRow, key: str) -> Preview:
        proposal = await session.scalar(
            select(ProposalRow)
            .where(ProposalRow.dispute_id == row.id)
            .order_by(ProposalRow.id.desc())
            .limit(1)
        )
        rule_id = key.removeprefix("notice:") if key.startswith("notice:") else None
        facts = dispute_facts(
            row,
            decision=await latest_decision(session, row),
            proposal=proposal,
            team=self.config.team,
            rule_id=rule_id,
        )
        try:
            rendered = self.templates().render(key, facts)
        except MissingFact as missing:
            return Preview(key, "", "", missing=missing.fact)
        except UnknownTemplate:
            raise DisputeError(f"There is no message template {key!r}.") from None
        except MessageError as broken:
            raise DisputeError(f"{str(broken).capitalize()}. Check the policy pack.") from None
        return Preview(key, rendered.subject, rendered.text)


def missing_fact_text(number: int, key: str, fact: str) -> str:
    return (
        f"This template needs {fact}, which {dispute_ref(number)} does not have yet: pick "
        "another template, or add what it needs first."
    )
