"""Load a policy pack: one that lints clean, its rules compiled and ranked."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from domain.resolutions import Resolution
from policies.engine import CompiledRule, compile_rule
from policies.lint import check_pack
from policies.schema import CustomerAgreement, Pack
from policies.yaml_source import Problem


class PackError(Exception):
    """A pack that does not load; `problems` says everything that is wrong with it."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadedPack:
    """A pack that passed lint: rules compiled and ranked, notice templates parsed."""

    pack: Pack
    path: Path
    content_hash: str
    rules: tuple[CompiledRule, ...]  # ranked: priority desc, specificity desc, id
    templates: dict[str, jinja2.Template] = field(default_factory=dict)

    def rule(self, rule_id: str) -> CompiledRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def needs_agreement(self, resolution: Resolution) -> bool:
        """Whether the customer must accept `resolution` before it is carried out."""
        return self.pack.customer_agreement(resolution) is CustomerAgreement.REQUIRED

    def render_notice(self, rule_id: str, **context: Any) -> str | None:
        """The rule's customer notice rendered with `context`; None when it has none."""
        self.rule(rule_id)
        template = self.templates.get(rule_id)
        return None if template is None else template.render(**context)


def load_pack(path: Path) -> LoadedPack:
    """Load and compile a pack; raises PackError listing every problem."""
    path = Path(path)
    checked = check_pack(path)
    if checked.problems or checked.pack is None:
        raise PackError(checked.problems)
    rules = sorted((compile_rule(rule) for rule in checked.pack.rules), key=lambda r: r.sort_key)
    return LoadedPack(
        pack=checked.pack,
        path=path,
        content_hash=hashlib.sha256(checked.raw).hexdigest(),
        rules=tuple(rules),
        templates=checked.templates,
    )
