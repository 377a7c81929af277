"""Customer notices: the Jinja templates that rules name, loaded from beside the pack.

The environment is sandboxed because templates arrive with the pack, not with the app's code;
a name a template uses but is not given fails when rendered, so a typo cannot send a blank.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, cast

import jinja2
import jinja2.sandbox
from jinja2.runtime import missing
from jinja2.sandbox import SandboxedEnvironment

from policies.yaml_source import Loc, Problem, YamlDoc


class UndefinedName(jinja2.UndefinedError):
    """A name a template used but was not given: `name`, looked up on `owner` (a value the
    template was given) or, when `owner` is None, among the names given."""

    def __init__(self, message: str | None = None, *, name: Any, owner: Any) -> None:
        super().__init__(message)
        self.name = name
        self.owner = owner


class NamedUndefined(jinja2.StrictUndefined):
    """StrictUndefined whose error says which name was missing, and on what."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[jinja2.TemplateRuntimeError] = jinja2.UndefinedError,
    ) -> None:
        super().__init__(hint, obj, name, exc)
        # Jinja raises `exc(message)`; binding the name and owner here lets the error say which
        # fact was missing. The sandbox's refusals pass another `exc` and stay SecurityErrors.
        if exc is jinja2.UndefinedError:
            owner = None if obj is missing else obj
            error = partial(UndefinedName, name=name, owner=owner)
            self._undefined_exception = cast(type[jinja2.UndefinedError], error)


# The most a template may make of `*` and `**`: enough for any message, too little to exhaust
# the app (`{{ 'a' * 10**9 }}` in a pack's notice is refused, not computed).
MAX_PRODUCT = 100_000


class BoundedSandbox(SandboxedEnvironment):
    """The sandbox, with `*` and `**` refused before they make something huge."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _too_big_power(left, right):
            raise jinja2.sandbox.SecurityError("a power this large is not allowed in a template")
        if operator == "*" and _too_long_repeat(left, right):
            raise jinja2.sandbox.SecurityError("a repetition this long is not allowed here")
        return super().call_binop(context, operator, left, right)


def _too_big_power(left: Any, right: Any) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    return not numbers or abs(right) > 64 or abs(left) > MAX_PRODUCT


def _too_long_repeat(left: Any, right: Any) -> bool:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            return len(seq) * times > MAX_PRODUCT
    return False


def environment(folder: Path) -> SandboxedEnvironment:
    """The environment for the notices of a pack in `folder` (names are relative to it)."""
    return BoundedSandbox(
        loader=jinja2.FileSystemLoader(folder),
        undefined=NamedUndefined,
        # Notices are plain text: only a template named as HTML is escaped, never a string.
        autoescape=jinja2.select_autoescape(
            ("html", "htm", "xml", "html.j2"), default_for_string=False
        ),
        keep_trailing_newline=True,
    )


def load_notice(
    doc: YamlDoc, env: SandboxedEnvironment, index: int, notice: Any, problems: list[Problem]
) -> jinja2.Template | None:
    """The template rule `index` names as its notice; None, with a problem, when it is bad."""
    at: Loc = ("rules", index, "notice")
    if not isinstance(notice, str):
        return None  # reported by the rule's own validation
    try:
        return env.get_template(notice)
    except jinja2.TemplateNotFound:
        problems.append(
            doc.problem(at, f"template {notice} not found (paths are relative to the pack file)")
        )
    except jinja2.TemplateSyntaxError as exc:
        problems.append(doc.problem(at, f"template {notice} line {exc.lineno}: {exc.message}"))
    return None
