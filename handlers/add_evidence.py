"""Adding evidence from the thread: the "Add evidence" button and its modal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.evidence_modal import evidence_modal
from blocks.ids import ActionId, Subject
from blocks.kit import field_errors
from blocks.text import clip, escape
from disputes.audit import Actor
from domain.evidence import MAX_EVIDENCE_FILES, EvidenceDraft, EvidenceKind
from handlers.deps import Deps
from handlers.errors import answering_errors, slack_error
from handlers.files import FileShareError, file_draft, share_files
from handlers.modal_values import ModalValues


def evidence_drafts(
    kind: EvidenceKind, note: str, link: str | None, files: list[dict[str, Any]], user_id: str
) -> list[EvidenceDraft]:
    """What the "Add evidence" modal files: one item per attached file, each carrying the
    note and link, or the note and link alone when no file was attached."""
    source = f"slack:{user_id}"
    if not files:
        return [EvidenceDraft(kind, source, note, {"note": note, "link": link}, url=link)]
    return [file_draft(file, user_id, kind=kind, note=note, link=link) for file in files]


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ActionId.ADD_EVIDENCE.value)
    async def add_evidence(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        subject = Subject.decode(body["actions"][0].get("value"))

        async def open_modal() -> None:
            actor = await deps.actor(client, body["user"]["id"])
            kinds = await deps.disputes.evidence_kinds_for(subject.dispute, actor)
            view = evidence_modal(subject.dispute, kinds)
            await client.views_open(trigger_id=body["trigger_id"], view=view)

        await answering_errors(respond, open_modal())

    @app.view(ActionId.EVIDENCE_MODAL.value)
    async def evidence_submitted(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        entered = ModalValues(view)
        kind = entered.choice("kind") or ""
        note = (entered.text("note") or "").strip()
        link = (entered.text("link") or "").strip() or None
        files = entered.files("file")
        errors = {}
        if kind not in EvidenceKind.__members__:
            errors["kind"] = "Choose what kind of evidence this is."
        if not note:
            errors["note"] = "Describe the evidence in a sentence."
        if link and not link.startswith(("https://", "http://")):
            errors["link"] = "A link starts with https://"
        if len(files) > MAX_EVIDENCE_FILES:
            errors["file"] = f"Attach at most {MAX_EVIDENCE_FILES} files at a time."
        if errors:
            await ack(**field_errors(errors))
            return
        await ack()
        subject = Subject.decode(view.get("private_metadata"))
        user_id = body["user"]["id"]

        async def job() -> None:
            actor = await deps.actor(client, user_id)
            answer = EvidenceAnswer(EvidenceKind(kind), note, link, files, actor)
            await file_answer(deps, subject.dispute, answer)

        async def tell(text: str, **_: object) -> None:
            thread_ts = await deps.disputes.thread_of(subject.dispute)
            await deps.threads.tell(user_id, text, thread_ts)

        deps.later(context, lambda: answering_errors(tell, job()))


@dataclass(frozen=True)
class EvidenceAnswer:
    """What a person entered in the "Add evidence" modal."""

    kind: EvidenceKind
    note: str
    link: str | None
    files: list[dict[str, Any]]
    actor: Actor

    @property
    def user_id(self) -> str:
        return self.actor.id


async def file_answer(deps: Deps, number: int, answer: EvidenceAnswer) -> None:
    """File the modal's evidence. Its files are first copied into the dispute's thread, for
    the team to open; if that fails they are filed as they are (visible to their uploader)
    and the person is told."""
    kinds = [answer.kind]  # checked before its files are copied anywhere
    dispute = (await deps.disputes.check_evidence(number, answer.actor, kinds)).dispute
    files, problem = answer.files, None
    if files and dispute.channel_id and dispute.thread_ts:
        comment = f"Evidence from <@{answer.user_id}>: {escape(clip(answer.note, 300))}"
        try:
            files = await share_files(
                deps.threads.client,
                files,
                channel=dispute.channel_id,
                thread_ts=dispute.thread_ts,
                comment=comment,
            )
        except (SlackApiError, httpx.HTTPError, FileShareError) as exc:
            problem = slack_error(exc) if isinstance(exc, SlackApiError) else str(exc)
    drafts = evidence_drafts(answer.kind, answer.note, answer.link, files, answer.user_id)
    await deps.disputes.add_evidence_items(number, drafts, answer.actor)
    await deps.threads.refresh(number)
    if problem:
        await deps.threads.tell(
            answer.user_id,
            f"Your evidence for D-{number} is filed, but its files could not be posted in the "
            f"thread ({problem}), so only you can open them. Drop them into the thread to share "
            "them with the team.",
            dispute.thread_ts,
        )
