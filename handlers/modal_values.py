"""Reading what a person entered in a submitted modal.

Every input is built by `blocks.kit.input_block`, whose block_id and action_id are the same
name, so a value is found at `state.values[name][name]`."""

from __future__ import annotations

from typing import Any

from domain.text import clean_text


class ModalValues:
    """The inputs of one submitted view, by name; text comes back cleaned of control and
    invisible characters."""

    def __init__(self, view: dict[str, Any]) -> None:
        state = view.get("state") or {}
        values = state.get("values") if isinstance(state, dict) else None
        self._values: dict[str, Any] = values if isinstance(values, dict) else {}

    def field(self, name: str) -> dict[str, Any]:
        block = self._values.get(name)
        element = block.get(name) if isinstance(block, dict) else None
        return element if isinstance(element, dict) else {}

    def text(self, name: str) -> str | None:
        """What was typed, cleaned; None when the input is empty or absent."""
        value = self.field(name).get("value")
        return clean_text(value) if isinstance(value, str) else None

    def choice(self, name: str) -> str | None:
        """The value of the chosen option (radio buttons, a select); None when none was."""
        option = self.field(name).get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
        return value if isinstance(value, str) else None

    def files(self, name: str) -> list[dict[str, Any]]:
        files = self.field(name).get("files")
        return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []
