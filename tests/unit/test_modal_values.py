"""Reading a submitted modal: values by input name, cleaned text, and nothing odd taken in."""

from __future__ import annotations

import pytest

from handlers.modal_values import ModalValues


def view(values: object) -> dict[str, object]:
    return {"state": {"values": values}}


def test_each_kind_of_input_is_read_by_its_name() -> None:
    entered = ModalValues(
        view(
            {
                "note": {"note": {"type": "plain_text_input", "value": "crushed\u202e box\x00"}},
                "kind": {"kind": {"selected_option": {"value": "PROOF_OF_DAMAGE"}}},
                "file": {"file": {"files": [{"id": "F1"}, "junk"]}},
            }
        )
    )
    assert entered.text("note") == "crushed box"
    assert entered.choice("kind") == "PROOF_OF_DAMAGE"
    assert entered.files("file") == [{"id": "F1"}]


def test_empty_and_absent_inputs_read_as_none() -> None:
    entered = ModalValues(view({"note": {"note": {"value": None}}, "kind": {"kind": {}}}))
    assert entered.text("note") is None
    assert entered.text("missing") is None
    assert entered.choice("kind") is None
    assert entered.files("file") == []


@pytest.mark.parametrize(
    "state",
    [None, [], "x", {"values": []}, {"values": {"note": []}}, {"values": {"note": {"note": 3}}}],
)
def test_a_malformed_state_reads_as_nothing_entered(state: object) -> None:
    entered = ModalValues({"state": state})
    assert entered.text("note") is None
    assert entered.choice("note") is None
    assert entered.files("note") == []


def test_a_chosen_option_that_is_not_text_is_no_choice() -> None:
    entered = ModalValues(view({"kind": {"kind": {"selected_option": {"value": 7}}}}))
    assert entered.choice("kind") is None
