"""Customer notices: the Jinja templates that rules name, loaded from beside the pack.

The environment is sandboxed because templates arrive with the pack, not with the app's code;
a name a template uses but is not given fails when rendered, so a typo cannot send a blank.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from policies.yaml_source import Loc, Problem, YamlDoc


def environment(folder: Path) -> SandboxedEnvironment:
    """The environment for the notices of a pack in `folder` (names are relative to it)."""
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(("html", "htm", "xml", "html.j2")),
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
