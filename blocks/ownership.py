"""Messages about who owns a dispute: the new owner's direct message and the confirmations."""

from __future__ import annotations

from blocks.disputes import title
from blocks.kit import section
from blocks.text import Message, link, user
from disputes.models import Dispute


def assigned_you(dispute: Dispute, by: str | None, permalink: str | None) -> Message:
    """The direct message to the person a dispute was given to (by `by`; None: at intake)."""
    who = f"{user(by)} assigned you" if by else "You were given"
    there = f" {link(permalink, 'Open the thread')}" if permalink else ""
    text = f"{who} {title(dispute)}."
    return Message(text, [section(f":incoming_envelope: {text}{there}")])


def owner_now(dispute: Dispute, unchanged: bool) -> Message:
    """The ephemeral answer to the person who assigned or took the dispute."""
    if unchanged:
        text = f"{dispute.ref} already belongs to {user(dispute.owner_id)}; nothing changed."
    else:
        text = f"{dispute.ref} now belongs to {user(dispute.owner_id)}."
    return Message(text, [section(f":white_check_mark: {text}")])
