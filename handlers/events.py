"""Files dropped into a dispute's thread become evidence."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from connectors.evidence import EvidenceDraft, EvidenceKind
from disputes.audit import Actor
from handlers.deps import Deps

MAX_FILES = 10


def file_draft(file: dict[str, Any], user_id: str) -> EvidenceDraft:
    """A shared file as evidence: images as photos, anything else as an attachment."""
    mimetype = str(file.get("mimetype") or "")
    kind = (
        EvidenceKind.PROOF_OF_DAMAGE if mimetype.startswith("image/") else EvidenceKind.ATTACHMENT
    )
    name = str(file.get("name") or file.get("title") or file.get("id") or "file")
    link = file.get("permalink") or file.get("url_private")
    payload = {
        "file_id": file.get("id"),
        "name": name,
        "mimetype": mimetype,
        "size": file.get("size"),
        "shared_by": user_id,
    }
    if kind is EvidenceKind.PROOF_OF_DAMAGE and link:
        payload["photos"] = [link]
    return EvidenceDraft(
        kind, f"slack:{user_id}", f"{name} shared by <@{user_id}>", payload, url=link
    )


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("message")
    async def thread_message(event: dict[str, Any], context: dict[str, Any]) -> None:
        files = event.get("files") or []
        thread_ts, channel = event.get("thread_ts"), event.get("channel")
        user_id = event.get("user")
        if not files or not thread_ts or not channel or not user_id:
            return
        if channel != deps.threads.channel_id:
            return

        async def job() -> None:
            number = await deps.disputes.by_thread(channel, thread_ts)
            if number is None:
                return
            added = False
            for file in files[:MAX_FILES]:
                draft = file_draft(file, user_id)
                added |= await deps.disputes.add_evidence(number, draft, Actor.slack_user(user_id))
            if added:
                await deps.threads.refresh(number)

        deps.later(context, job)
