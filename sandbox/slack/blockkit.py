"""Block Kit validation as Slack does it: the SDK's model checks plus the published limits."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, BlockElement

Surface = Literal["message", "modal", "home"]

MAX_BLOCKS = {"message": 50, "modal": 100, "home": 100}
MAX_MESSAGE_TEXT = 40000
LIMITS = {
    "section_text": 3000,
    "header_text": 150,
    "button_text": 75,
    "button_value": 2000,
    "id": 255,
    "option_text": 75,
    "option_value": 150,
    "options": 100,
    "private_metadata": 3000,
    "view_text": 24,
}
MAX_FILES = 10
SELECTS_WITH_OPTIONS = {
    "static_select",
    "multi_static_select",
    "overflow",
    "radio_buttons",
    "checkboxes",
}


def _element_types() -> set[str]:
    found: set[str] = set()
    stack: list[type] = [BlockElement]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        kind = getattr(cls, "type", None)
        if isinstance(kind, str):
            found.add(kind)
    return found | {"plain_text", "mrkdwn"}


ELEMENT_TYPES = _element_types()


def _err(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _too_long(value: Any, limit: int, pointer: str) -> list[str]:
    if isinstance(value, str) and len(value) > limit:
        return [_err(f"must be less than {limit + 1} characters", pointer)]
    return []


def _text_of(obj: Any) -> Any:
    return obj.get("text") if isinstance(obj, dict) else obj


def _check_options(options: Any, pointer: str) -> list[str]:
    if not isinstance(options, list):
        return []
    errors: list[str] = []
    if len(options) > LIMITS["options"]:
        errors.append(_err(f"must provide no more than {LIMITS['options']} items", pointer))
    for i, opt in enumerate(options):
        if not isinstance(opt, dict):
            continue
        p = f"{pointer}/{i}"
        errors += _too_long(_text_of(opt.get("text")), LIMITS["option_text"], f"{p}/text/text")
        errors += _too_long(opt.get("value"), LIMITS["option_value"], f"{p}/value")
    return errors


def _check_element(el: Any, pointer: str) -> list[str]:
    if not isinstance(el, dict):
        return [_err("must be an object", pointer)]
    kind = el.get("type")
    if kind not in ELEMENT_TYPES:
        return [_err(f"unsupported type: {kind}", f"{pointer}/type")]
    errors = _too_long(el.get("action_id"), LIMITS["id"], f"{pointer}/action_id")
    if kind == "button":
        errors += _too_long(_text_of(el.get("text")), LIMITS["button_text"], f"{pointer}/text/text")
        errors += _too_long(el.get("value"), LIMITS["button_value"], f"{pointer}/value")
    if kind in SELECTS_WITH_OPTIONS:
        errors += _check_options(el.get("options"), f"{pointer}/options")
    for g, group in enumerate(el.get("option_groups") or []):
        if isinstance(group, dict):
            errors += _check_options(group.get("options"), f"{pointer}/option_groups/{g}/options")
    return errors


def _check_input_only(el: Any, pointer: str) -> list[str]:
    # Elements that only an input block may hold (Slack refuses them as accessories or actions).
    if isinstance(el, dict) and el.get("type") == "file_input":
        return [_err("file_input is only allowed in an input block", f"{pointer}/type")]
    return []


def _check_file_input(el: dict[str, Any], pointer: str, surface: Surface) -> list[str]:
    if surface != "modal":
        return [_err("file_input is only allowed in modals", f"{pointer}/type")]
    max_files = el.get("max_files")
    valid = type(max_files) is int and 1 <= max_files <= MAX_FILES  # a bool is no count
    if max_files is not None and not valid:
        return [_err(f"must be between 1 and {MAX_FILES}", f"{pointer}/max_files")]
    return []


def _check_input(block: dict[str, Any], pointer: str, surface: Surface) -> list[str]:
    el, el_pointer = block.get("element"), f"{pointer}/element"
    if el is None:
        return []
    errors = _check_element(el, el_pointer)
    if not errors and el.get("type") == "file_input":
        errors += _check_file_input(el, el_pointer, surface)
    return errors


def _check_block(block: dict[str, Any], pointer: str, surface: Surface) -> list[str]:
    errors = _too_long(block.get("block_id"), LIMITS["id"], f"{pointer}/block_id")
    kind = block.get("type")
    if kind == "section":
        text = _text_of(block.get("text"))
        errors += _too_long(text, LIMITS["section_text"], f"{pointer}/text/text")
        if block.get("accessory") is not None:
            errors += _check_element(block["accessory"], f"{pointer}/accessory")
            errors += _check_input_only(block["accessory"], f"{pointer}/accessory")
    elif kind == "header":
        header = _text_of(block.get("text"))
        errors += _too_long(header, LIMITS["header_text"], f"{pointer}/text/text")
    elif kind == "actions":
        elements = block.get("elements") or []
        for i, el in enumerate(elements):
            errors += _check_element(el, f"{pointer}/elements/{i}")
            errors += _check_input_only(el, f"{pointer}/elements/{i}")
        ids = Counter(el.get("action_id") for el in elements if isinstance(el, dict))
        for i, el in enumerate(elements):
            aid = el.get("action_id") if isinstance(el, dict) else None
            if aid and ids[aid] > 1:
                errors.append(_err(f"action_id {aid!r} already exists", f"{pointer}/elements/{i}"))
    elif kind == "input":
        errors += _check_input(block, pointer, surface)
    return errors


def _sdk_errors(block: dict[str, Any], pointer: str) -> list[str]:
    # The SDK returns None for unknown block types (with a warning); Slack rejects them.
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return [_err(f"unsupported type: {block.get('type')}", f"{pointer}/type")]
        parsed.to_dict()
    except SlackObjectFormationError as exc:
        return [_err(str(exc), pointer)]
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return [_err(f"invalid block: {exc}", pointer)]
    return []


def validate_blocks(blocks: Any, *, surface: Surface = "message") -> list[str]:
    """Every reason Slack would reject these blocks on this surface; empty when valid."""
    if not isinstance(blocks, list):
        return [_err("must be an array", "/blocks")]
    errors: list[str] = []
    limit = MAX_BLOCKS[surface]
    if len(blocks) > limit:
        errors.append(_err(f"must provide no more than {limit} items", "/blocks"))
    for i, block in enumerate(blocks):
        pointer = f"/blocks/{i}"
        if not isinstance(block, dict):
            errors.append(_err("must be an object", pointer))
            continue
        own = _check_block(block, pointer, surface)
        # The SDK catches the rest, but repeats what we already reported more precisely.
        errors += own or _sdk_errors(block, pointer)
    block_ids = Counter(b.get("block_id") for b in blocks if isinstance(b, dict))
    for i, block in enumerate(blocks):
        bid = block.get("block_id") if isinstance(block, dict) else None
        if bid and block_ids[bid] > 1:
            errors.append(_err(f"block_id {bid!r} already exists", f"/blocks/{i}/block_id"))
    return errors


def validate_message(text: Any, blocks: Any) -> list[str]:
    """Errors for a chat message's text and blocks."""
    errors = _too_long(text, MAX_MESSAGE_TEXT, "/text")
    if blocks:
        errors += validate_blocks(blocks, surface="message")
    return errors


def validate_view(view: Any) -> list[str]:
    """Every reason Slack would reject this modal or Home tab view; empty when valid."""
    if not isinstance(view, dict):
        return [_err("must be an object", "/view")]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return [_err("must be one of modal, home", "/type")]
    blocks = view.get("blocks")
    errors = validate_blocks(blocks if blocks is not None else [], surface=kind)
    errors += _too_long(
        view.get("private_metadata"), LIMITS["private_metadata"], "/private_metadata"
    )
    errors += _too_long(view.get("callback_id"), LIMITS["id"], "/callback_id")
    errors += _too_long(view.get("external_id"), LIMITS["id"], "/external_id")
    if kind == "modal":
        if not view.get("title"):
            errors.append(_err("missing required field: title", "/title"))
        for key in ("title", "submit", "close"):
            errors += _too_long(_text_of(view.get(key)), LIMITS["view_text"], f"/{key}/text")
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks or [])
        if has_input and not view.get("submit"):
            errors.append(_err("must provide a submit button with input blocks", "/submit"))
    return errors
