"""Customer messages: the app's general templates and the pack's notices, picked and rendered.

General templates ship in `policies/messages/`; notices are the ones the pack's rules name.
Both are plain text, rendered in the sandbox of `notices.environment`. A template sets its
subject with `{% set subject %}...{% endset %}`; one that does not gets NOTICE_SUBJECT.

The facts a template may use. The app builds them from the dispute; a fact the dispute lacks
is left out (so is one given as None), and a template that needs it raises MissingFact rather
than send a blank:

    dispute_ref       the dispute's reference, "D-7"
    customer_name     the customer's name
    order_id          "ORD-1001"
    reason            the return reason's label, "Damaged"
    claim             what the customer says, as they wrote it
    resolution        the resolution's value, "partial_refund"
    resolution_label  its label, "Partial refund"
    amount            what the resolution pays, written for the customer: "$45.00"
    rule              the cited rule: a mapping of id, citation, title and text
    missing_evidence  the evidence still missing, as words people read: ["Photos"]
    offer_url         where the customer accepts or declines an offer
    offer_expires     when the offer lapses, "15 December 2026"
    csat_url          where the customer rates how we did
    team              who signs, "The Customer Care team"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from policies.loader import LoadedPack
from policies.notices import UndefinedName, environment

GENERAL_FOLDER = Path(__file__).parent / "messages"
GENERAL = "general"
NOTICE = "notice"
GENERAL_LABELS: dict[str, str] = {
    "acknowledgement": "Acknowledgement",
    "request_photos": "Request for photos",
    "offer": "Offer",
    "final_decision": "Final decision",
    "reminder": "Reminder",
    "closing": "Closing",
}
# What a manager picks from; the app sends reminders and the closing message itself.
PICKED = ("acknowledgement", "request_photos", "offer", "final_decision")
NOTICE_SUBJECT = "About your order {{ order_id }} ({{ dispute_ref }})"
_MAX_DEPTH = 4  # how deep a missing attribute's owner is looked for among the facts


class MessageError(Exception):
    """A customer message that cannot be written; the text says why."""


class UnknownTemplate(MessageError):
    """A key that names no template: not `general:<name>`, or no notice of this pack."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no message template {key!r}")
        self.key = key


class MissingFact(MessageError):
    """A fact the template needs that the dispute lacks: "amount", "rule.citation"."""

    def __init__(self, fact: str, template: str) -> None:
        super().__init__(f"the message {template} needs {fact}, which this dispute does not have")
        self.fact = fact
        self.template = template


class BrokenTemplate(MessageError):
    """A template that fails for any other reason, such as an access the sandbox refuses."""

    def __init__(self, template: str, error: Exception) -> None:
        super().__init__(f"the message {template} cannot be written: {error}")
        self.template = template


@dataclass(frozen=True, slots=True)
class TemplateChoice:
    key: str  # "general:offer" or "notice:<rule-id>"
    label: str  # what a manager picks from: "Offer", "Notice: <rule title> (<citation>)"
    kind: str  # GENERAL or NOTICE


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str


class MessageTemplates:
    """The messages a dispute may send its customer: the general ones and `pack`'s notices."""

    def __init__(self, pack: LoadedPack | None) -> None:
        self._pack = pack
        self._general, self._notice_subject = _general_templates()

    def choices(self, rule_ids: Sequence[str] = ()) -> list[TemplateChoice]:
        """The general templates a manager picks from, then the notices of `rule_ids` in
        their order, each notice file once."""
        found = [TemplateChoice(f"{GENERAL}:{n}", GENERAL_LABELS[n], GENERAL) for n in PICKED]
        seen: set[str] = set()
        for rule_id in rule_ids:
            template = self._notice(rule_id)
            if template is None or (template.name or rule_id) in seen:
                continue
            seen.add(template.name or rule_id)
            assert self._pack is not None  # a notice was found in it
            rule = self._pack.rule(rule_id).rule
            label = f"Notice: {rule.title} ({rule.citation})"
            found.append(TemplateChoice(f"{NOTICE}:{rule_id}", label, NOTICE))
        return found

    def render(self, key: str, facts: Mapping[str, Any]) -> Rendered:
        """The message `key` written with `facts`; raises MissingFact, UnknownTemplate or
        BrokenTemplate."""
        template = self._template(key)
        given = {name: value for name, value in facts.items() if value is not None}
        try:
            module = template.make_module(given)
            subject = getattr(module, "subject", None)
            if subject is None:
                subject = self._notice_subject.render(given)
        except UndefinedName as exc:
            fact = _fact_path(exc, given)
            if fact is None:  # something missing on a value the template did not get as a fact
                raise BrokenTemplate(key, exc) from exc
            raise MissingFact(fact, key) from None
        except Exception as exc:  # a notice is the pack's code: whatever fails in it is said
            raise BrokenTemplate(key, exc) from exc
        return Rendered(subject=" ".join(str(subject).split()), text=_tidy(str(module)))

    def _template(self, key: str) -> jinja2.Template:
        kind, _, name = key.partition(":")
        template = None
        if kind == GENERAL:
            template = self._general.get(name)
        elif kind == NOTICE:
            template = self._notice(name)
        if template is None:
            raise UnknownTemplate(key)
        return template

    def _notice(self, rule_id: str) -> jinja2.Template | None:
        return None if self._pack is None else self._pack.templates.get(rule_id)


@cache
def _general_templates() -> tuple[dict[str, jinja2.Template], jinja2.Template]:
    env = environment(GENERAL_FOLDER)
    general = {name: env.get_template(f"{name}.j2") for name in GENERAL_LABELS}
    return general, env.from_string(NOTICE_SUBJECT)


def _tidy(text: str) -> str:
    """No trailing spaces, no blank lines at either end, at most one blank line in a row."""
    lines: list[str] = []
    for line in text.splitlines():
        line = line.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip("\n")


def _fact_path(error: UndefinedName, facts: Mapping[str, Any]) -> str | None:
    """The missing name as a path from the facts ("amount", "rule.citation"); None when it
    was looked up on something that is not a fact."""
    if error.owner is None:
        return str(error.name)
    owner = _path_to(error.owner, facts, "", _MAX_DEPTH)
    if owner is None:
        return None
    return f"{owner}[{error.name}]" if isinstance(error.name, int) else f"{owner}.{error.name}"


def _path_to(target: Any, values: Mapping[str, Any], prefix: str, depth: int) -> str | None:
    for name, value in values.items():
        path = f"{prefix}.{name}" if prefix else str(name)
        if value is target:
            return path
        if depth > 1 and isinstance(value, Mapping):
            found = _path_to(target, value, path, depth - 1)
            if found is not None:
                return found
    return None
