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

    def field(self, name: str, action: str | None = None) -> dict[str, Any]:
        """The state of input `name` (its element's action id is `action`, else `name` too)."""
        block = self._values.get(name)
        element = block.get(action or name) if isinstance(block, dict) else None
        return element if isinstance(element, dict) else {}

    def named(self, prefix: str) -> str | None:
        """The id of the input block named `prefix.<tag>` (inputs named after what they show,
        so that a re-rendered view replaces their content); None when there is none."""
        return next((bid for bid in self._values if bid.startswith(f"{prefix}.")), None)

    def text(self, name: str, action: str | None = None) -> str | None:
        """What was typed, cleaned; None when the input is empty or absent."""
        value = self.field(name, action).get("value")
        return clean_text(value) if isinstance(value, str) else None

    def choice(self, name: str, action: str | None = None) -> str | None:
        """The value of the chosen option (radio buttons, a select); None when none was."""
        option = self.field(name, action).get("selected_option")
        value = option.get("value") if isinstance(option, dict) else None
        return value if isinstance(value, str) else None

    def files(self, name: str) -> list[dict[str, Any]]:
        files = self.field(name).get("files")
        return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []
