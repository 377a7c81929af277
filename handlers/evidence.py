"""Adding evidence from the thread: the "Add evidence" button and its modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.ids import ActionId, Subject
from blocks.resolution import evidence_modal, field_errors
from connectors.evidence import EvidenceDraft, EvidenceKind
from disputes.audit import Actor
from handlers.deps import Deps
from handlers.errors import answering_errors


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
        errors = {}
        if kind not in EvidenceKind.__members__:
            errors["kind"] = "Choose what kind of evidence this is."
        if not note:
            errors["note"] = "Describe the evidence in a sentence."
        if link and not link.startswith(("https://", "http://")):
            errors["link"] = "A link starts with https://"
        if errors:
            await ack(**field_errors(errors))
            return
        await ack()
        subject = Subject.decode(view.get("private_metadata"))
        user_id = body["user"]["id"]
        draft = EvidenceDraft(
            EvidenceKind(kind), f"slack:{user_id}", note, {"note": note, "link": link}, url=link
        )

        async def job() -> None:
            await deps.disputes.add_evidence(subject.dispute, draft, Actor.slack_user(user_id))
            await deps.threads.refresh(subject.dispute)

        async def quietly(text: str, **_: Any) -> None:
            await deps.threads.client.chat_postEphemeral(
                channel=deps.threads.channel_id, user=user_id, text=text
            )

        deps.later(context, lambda: answering_errors(quietly, job()))
