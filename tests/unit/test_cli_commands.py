"""The command line's parser names each command's code by module; every name must resolve."""

from __future__ import annotations

import argparse
import inspect

from bot import cli
from bot.exports import Format


def _targets(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each command's words and the `module:function` its `run` names."""
    found: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, child in action.choices.items():
                for words, target in _targets(child).items():
                    found[f"{word} {words}".strip()] = target
    run = parser.get_default("run")
    if run is not None:
        found[""] = run
    return found


def test_every_command_names_a_coroutine_function_that_exists() -> None:
    targets = _targets(cli._parser())
    assert set(targets) == {
        "serve",
        "demo",
        "migrate",
        "audit verify",
        "policy lint",
        "policy explain",
        "policy test",
        "sla lint",
        "insights",
        "export",
    }
    for words, target in targets.items():
        command = cli._command(target)
        assert inspect.iscoroutinefunction(command), words


def test_export_takes_exactly_the_formats_written() -> None:
    assert set(cli.EXPORT_FORMATS) == {form.value for form in Format}
