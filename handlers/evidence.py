"""Adding evidence from the thread: the "Add evidence" button and its modal."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.ids import ActionId, Subject
from blocks.resolution import MAX_EVIDENCE_FILES, evidence_modal, field_errors
from connectors.evidence import EvidenceDraft, EvidenceKind
from disputes.audit import Actor
from handlers.deps import Deps
from handlers.errors import answering_errors
from handlers.files import file_draft


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
    async def add_evidence(ack: Any, body: dict[str, Any], client: Any) -> None:
        await ack()
        subject = Subject.decode(body["actions"][0].get("value"))
        await client.views_open(trigger_id=body["trigger_id"], view=evidence_modal(subject.dispute))

    @app.view(ActionId.EVIDENCE_MODAL.value)
    async def evidence_submitted(
        ack: Any,
        body: dict[str, Any],
        view: dict[str, Any],
        context: dict[str, Any],
        respond: Any = None,
    ) -> None:
        values = view.get("state", {}).get("values", {})

        def field(name: str) -> dict[str, Any]:
            return values.get(name, {}).get(name, {})

        kind = (field("kind").get("selected_option") or {}).get("value")
        note = (field("note").get("value") or "").strip()
        link = (field("link").get("value") or "").strip() or None
        files = field("file").get("files") or []
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
        drafts = evidence_drafts(EvidenceKind(kind), note, link, files, user_id)

        async def job() -> None:
            actor = Actor.slack_user(user_id)
            await deps.disputes.add_evidence_items(subject.dispute, drafts, actor)
            await deps.threads.refresh(subject.dispute)

        tell = partial(deps.threads.tell, user_id)
        deps.later(context, lambda: answering_errors(tell, job()))
