"""Block Kit validation: valid examples of every block the app uses, then each limit broken."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.slack.blockkit import validate_blocks, validate_message, validate_view


def pt(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def option(value: str, text: str | None = None) -> dict[str, Any]:
    return {"text": pt(text or value), "value": value}


def button(action_id: str = "approve", text: str = "Approve", **kw: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": pt(text), **kw}


def section(text: str = "hello", **kw: Any) -> dict[str, Any]:
    return {"type": "section", "text": md(text), **kw}


def actions(*elements: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"type": "actions", "elements": list(elements), **kw}


def input_block(block_id: str, element: dict[str, Any]) -> dict[str, Any]:
    return {"type": "input", "block_id": block_id, "label": pt(block_id), "element": element}


def modal(*blocks: dict[str, Any], **kw: Any) -> dict[str, Any]:
    view = {"type": "modal", "title": pt("Resolve D-1"), "blocks": list(blocks)}
    view.update(kw)
    return view


MESSAGE_BLOCKS = [
    {"type": "header", "text": pt("D-1 · ORD-1001")},
    section("*Claim:* refund never arrived"),
    {"type": "section", "fields": [md("*Order*\nORD-1001"), md("*Amount*\n$129.00")]},
    section("Evidence incomplete", accessory=button("add_evidence", "Add evidence")),
    {"type": "context", "elements": [md("Opened by <@U0AGENT>")]},
    {"type": "divider"},
    {"type": "image", "image_url": "https://example.com/p.png", "alt_text": "parcel"},
    actions(
        button("approve", "Approve", style="primary", value='{"d":1}'),
        button(
            "reject",
            "Reject",
            style="danger",
            confirm={
                "title": pt("Sure?"),
                "text": md("This denies the refund."),
                "confirm": pt("Yes"),
                "deny": pt("No"),
            },
        ),
        {
            "type": "static_select",
            "action_id": "assign",
            "placeholder": pt("Assign"),
            "options": [option("U0MANAGER1"), option("U0MANAGER2")],
        },
        {"type": "overflow", "action_id": "more", "options": [option("withdraw")]},
        {"type": "datepicker", "action_id": "follow_up", "initial_date": "2024-05-01"},
    ),
]

MODAL = modal(
    input_block("note", {"type": "plain_text_input", "action_id": "v", "multiline": True}),
    input_block("amount", {"type": "number_input", "action_id": "v", "is_decimal_allowed": True}),
    input_block("option", {"type": "static_select", "action_id": "v", "options": [option("a")]}),
    input_block("radio", {"type": "radio_buttons", "action_id": "v", "options": [option("a")]}),
    input_block("checks", {"type": "checkboxes", "action_id": "v", "options": [option("a")]}),
    input_block("date", {"type": "datepicker", "action_id": "v"}),
    submit=pt("Propose"),
    close=pt("Cancel"),
    private_metadata='{"dispute":"D-1"}',
    callback_id="resolve",
)


def test_every_message_block_the_app_uses_is_valid() -> None:
    assert validate_blocks(MESSAGE_BLOCKS, surface="message") == []


def test_modal_with_every_input_is_valid() -> None:
    assert validate_view(MODAL) == []


def test_home_view_is_valid() -> None:
    assert validate_view({"type": "home", "blocks": MESSAGE_BLOCKS}) == []


def only(errors: list[str]) -> str:
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.parametrize(
    ("block", "pointer"),
    [
        (section("x" * 3001), "/blocks/0/text/text"),
        ({"type": "header", "text": pt("h" * 151)}, "/blocks/0/text/text"),
        (actions(button(text="b" * 76)), "/blocks/0/elements/0/text/text"),
        (actions(button(value="v" * 2001)), "/blocks/0/elements/0/value"),
        (actions(button(action_id="a" * 256)), "/blocks/0/elements/0/action_id"),
        ({"type": "divider", "block_id": "b" * 256}, "/blocks/0/block_id"),
        (
            actions(
                {"type": "static_select", "action_id": "s", "options": [option("v", "t" * 76)]}
            ),
            "/blocks/0/elements/0/options/0/text/text",
        ),
        (
            actions(
                {"type": "static_select", "action_id": "s", "options": [option("v" * 151, "t")]}
            ),
            "/blocks/0/elements/0/options/0/value",
        ),
        (
            actions(
                {
                    "type": "static_select",
                    "action_id": "s",
                    "options": [option(str(i)) for i in range(101)],
                }
            ),
            "/blocks/0/elements/0/options",
        ),
        ({"type": "mystery"}, "/blocks/0/type"),
        (
            section(accessory={"type": "mystery_element", "action_id": "m"}),
            "/blocks/0/accessory/type",
        ),
        (actions(button(style="red")), "/blocks/0"),
        ({"type": "section"}, "/blocks/0"),
    ],
)
def test_each_block_limit(block: dict[str, Any], pointer: str) -> None:
    error = only(validate_blocks([block], surface="message"))
    assert error.startswith("[ERROR] ")
    assert error.endswith(f"[json-pointer:{pointer}]")


def test_section_text_error_reads_like_slack() -> None:
    assert validate_blocks([section("x" * 3001)]) == [
        "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"
    ]


def test_at_the_limit_is_fine() -> None:
    blocks = [
        section("x" * 3000),
        {"type": "header", "text": pt("h" * 150)},
        actions(button(text="b" * 75, value="v" * 2000, action_id="a" * 255), block_id="b" * 255),
    ]
    assert validate_blocks(blocks) == []


def test_50_blocks_per_message_100_per_modal_and_home() -> None:
    assert validate_blocks([{"type": "divider"}] * 50, surface="message") == []
    assert "no more than 50" in only(validate_blocks([{"type": "divider"}] * 51))
    assert validate_blocks([{"type": "divider"}] * 100, surface="modal") == []
    assert "no more than 100" in only(validate_blocks([{"type": "divider"}] * 101, surface="home"))


def test_duplicate_block_ids_in_one_surface() -> None:
    errors = validate_blocks([section(block_id="a"), {"type": "divider", "block_id": "a"}])
    assert len(errors) == 2
    assert all("block_id 'a' already exists" in e for e in errors)


def test_duplicate_action_ids_within_one_actions_block() -> None:
    errors = validate_blocks([actions(button("go"), button("go", "Again"))])
    assert errors and all("action_id 'go' already exists" in e for e in errors)
    # The same action_id in two different blocks is allowed.
    assert validate_blocks([actions(button("go")), actions(button("go"))]) == []


def test_message_text_limit() -> None:
    assert validate_message("t" * 40000, None) == []
    assert only(validate_message("t" * 40001, None)).endswith("[json-pointer:/text]")


def test_private_metadata_limit() -> None:
    assert validate_view(modal(private_metadata="m" * 3000)) == []
    error = only(validate_view(modal(private_metadata="m" * 3001)))
    assert error.endswith("[json-pointer:/private_metadata]")


@pytest.mark.parametrize("key", ["title", "submit", "close"])
def test_modal_title_submit_close_limit(key: str) -> None:
    error = only(validate_view(modal(**{key: pt("t" * 25)})))
    assert error.endswith(f"[json-pointer:/{key}/text]")


def test_modal_with_inputs_needs_submit() -> None:
    view = modal(input_block("note", {"type": "plain_text_input", "action_id": "v"}))
    assert only(validate_view(view)).endswith("[json-pointer:/submit]")
    assert validate_view({**view, "submit": pt("Save")}) == []


def test_modal_needs_title_and_known_type() -> None:
    assert only(validate_view({"type": "modal", "blocks": []})).endswith("/title]")
    assert only(validate_view({"type": "sheet", "blocks": []})).endswith("/type]")


def test_too_many_options_in_modal_select() -> None:
    element = {"type": "static_select", "action_id": "v"}
    element["options"] = [option(str(i)) for i in range(101)]
    view = modal(input_block("pick", element), submit=pt("Go"))
    assert only(validate_view(view)).endswith("/blocks/0/element/options]")


# -- file_input --------------------------------------------------------------------


def file_input(**kw: Any) -> dict[str, Any]:
    return {"type": "file_input", "action_id": "file", **kw}


def test_file_input_in_a_modal_input_block_is_valid() -> None:
    view = modal(
        input_block("file", file_input(max_files=10, filetypes=["png", "pdf"])),
        input_block("one", file_input(max_files=1)),
        input_block("default", file_input()),
        submit=pt("Add"),
    )
    assert validate_view(view) == []


@pytest.mark.parametrize("surface", ["message", "home"])
def test_file_input_only_in_modals(surface: str) -> None:
    error = only(validate_blocks([input_block("file", file_input())], surface=surface))
    assert "only allowed in modals" in error
    assert error.endswith("[json-pointer:/blocks/0/element/type]")


def test_file_input_as_an_actions_element_or_accessory_is_refused() -> None:
    as_action = only(validate_blocks([actions(file_input())], surface="modal"))
    assert as_action.endswith("[json-pointer:/blocks/0/elements/0/type]")
    as_accessory = only(validate_blocks([section(accessory=file_input())], surface="modal"))
    assert as_accessory.endswith("[json-pointer:/blocks/0/accessory/type]")


@pytest.mark.parametrize("max_files", [0, 11, -1, "3", True, 2.5])
def test_file_input_max_files_from_1_to_10(max_files: Any) -> None:
    view = modal(input_block("file", file_input(max_files=max_files)), submit=pt("Add"))
    error = only(validate_view(view))
    assert "must be between 1 and 10" in error
    assert error.endswith("[json-pointer:/blocks/0/element/max_files]")
