"""Generic Block Kit pieces: text objects, sections, buttons and inputs. Text from outside is
escaped by `blocks.text` before it reaches any of them."""

from __future__ import annotations

from typing import Any

from blocks.ids import ActionId, Subject
from blocks.text import clip, clip_escaped, escape, one_line

Block = dict[str, Any]

TEXT_MAX = 2500  # free text typed in a modal; leaves room in a 3000-character section


def plain(text: object, limit: int = 3000) -> dict[str, Any]:
    """A plain_text object (a label, a button, an option, a title) on one line: escaped like
    every other text field, then clipped."""
    shown = clip_escaped(escape(one_line(str(text))), limit)
    return {"type": "plain_text", "text": shown, "emoji": True}


def section(text: str, **extra: Any) -> dict[str, Any]:
    """A mrkdwn section; `text` is already built from escaped pieces."""
    shown = clip_escaped(text, 3000)
    return {"type": "section", "text": {"type": "mrkdwn", "text": shown}, **extra}


def context(*texts: str) -> dict[str, Any]:
    """A context line; each of `texts` is mrkdwn already built from escaped pieces."""
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip_escaped(t, 3000)} for t in texts[:10]],
    }


def header(text: str) -> dict[str, Any]:
    """A header from plain text (escaped here), on one line."""
    shown = clip_escaped(escape(one_line(text)), 150)
    return {"type": "header", "text": {"type": "plain_text", "text": shown}}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def button(
    action: ActionId, text: str, subject: Subject, *, style: str | None = None, **extra: Any
) -> Block:
    out: Block = {
        "type": "button",
        "action_id": action.value,
        "text": plain(text, 75),
        "value": subject.encode(),
    }
    if style:
        out["style"] = style
    return out | extra


def text_input(*, multiline: bool = False, initial: Any = None, **extra: Any) -> Block:
    element: Block = {"type": "plain_text_input", "multiline": multiline, **extra}
    if initial:
        # The person's own words, returned as typed: an input value, never rendered as mrkdwn.
        element["initial_value"] = clip(str(initial), element.get("max_length", 3000))
    return element


def input_block(
    name: str, label: str, element: Block, *, optional: bool = True, hint: str | None = None
) -> Block:
    """An input whose block_id and action_id are both `name`: handlers read values[name][name]."""
    block: Block = {
        "type": "input",
        "block_id": name,
        "label": plain(label, 2000),
        "element": element | {"action_id": name},
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def field_errors(errors: dict[str, str]) -> dict[str, Any]:
    """A view_submission answer that shows each message under its input block."""
    return {"response_action": "errors", "errors": dict(errors)}
