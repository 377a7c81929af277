"""The "Add evidence" modal."""

from __future__ import annotations

from collections.abc import Sequence

from blocks.ids import ActionId, Subject
from blocks.kit import TEXT_MAX, Block, input_block, plain, text_input
from domain.evidence import MAX_EVIDENCE_FILES, EvidenceKind


def evidence_modal(number: int, kinds: Sequence[EvidenceKind] = tuple(EvidenceKind)) -> Block:
    """The "Add evidence" modal: what kind (of those the person may add), a note, and an
    optional link and files."""
    options = [{"text": plain(kind.label, 75), "value": kind.value} for kind in kinds]
    blocks = [
        input_block("kind", "Kind", {"type": "static_select", "options": options}, optional=False),
        input_block(
            "note", "What it shows", text_input(multiline=True, max_length=TEXT_MAX), optional=False
        ),
        input_block(
            "link",
            "Link",
            text_input(placeholder=plain("https://…", 150)),
            hint="A tracking page, a helpdesk ticket or a shared document",
        ),
        input_block(
            "file",
            "Files",
            {"type": "file_input", "max_files": MAX_EVIDENCE_FILES},
            hint="Photos of the item, a receipt, the warehouse report",
        ),
    ]
    return {
        "type": "modal",
        "callback_id": ActionId.EVIDENCE_MODAL.value,
        "private_metadata": Subject(dispute=number).encode(),
        "title": plain("Add evidence", 24),
        "submit": plain("Add", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }
