"""Slack files as evidence: a file shared in a dispute's thread or attached in a modal."""

from __future__ import annotations

from typing import Any

from connectors.evidence import EvidenceDraft, EvidenceKind


def file_kind(file: dict[str, Any]) -> EvidenceKind:
    """Images are photos of the item; anything else is an attachment."""
    if str(file.get("mimetype") or "").startswith("image/"):
        return EvidenceKind.PROOF_OF_DAMAGE
    return EvidenceKind.ATTACHMENT


def file_draft(
    file: dict[str, Any],
    user_id: str,
    *,
    kind: EvidenceKind | None = None,
    note: str | None = None,
    link: str | None = None,
) -> EvidenceDraft:
    """One Slack file object as evidence, filed under `kind` (by default from its type) with
    the person's note (by default, who shared it) and a link they gave with it."""
    kind = kind or file_kind(file)
    name = str(file.get("name") or file.get("title") or file.get("id") or "file")
    permalink = file.get("permalink") or file.get("url_private")
    mimetype = str(file.get("mimetype") or "")
    payload: dict[str, Any] = {
        "file_id": file.get("id"),
        "name": name,
        "mimetype": mimetype,
        "size": file.get("size"),
        "shared_by": user_id,
    }
    if note:
        payload["note"] = note
    if link:
        payload["link"] = link
    if mimetype.startswith("image/") and permalink:
        payload["photos"] = [permalink]
    summary = f"{note} ({name})" if note else f"{name} shared by <@{user_id}>"
    return EvidenceDraft(kind, f"slack:{user_id}", summary, payload, url=permalink)
