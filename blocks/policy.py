"""The policy card in a dispute's thread, its "Why?" trace, and policy search results."""

from __future__ import annotations

from typing import Any

from blocks.ids import ActionId, Subject
from blocks.labels import recommendation_text, resolution_label
from blocks.resolution import review_button
from blocks.text import Message, clip, context, escape, header, section
from disputes.models import (
    CaseFile,
    PolicyRule,
    RuleTrace,
)
from disputes.models import PolicyDecision as Decision

MODAL_BLOCKS = 100


def approval_text(decision: Decision) -> str:
    if decision.needs_supervisor:
        return ":warning: A supervisor must approve."
    return f"Approval: {decision.approval.role}."


def policy_card(case: CaseFile, decision: Decision) -> Message:
    dispute = case.dispute
    blocks: list[dict[str, Any]] = [header(f"Policy · {dispute.ref}")]
    cited = [
        f"• *{escape(rule.citation)}* — {escape(rule.title)}" for rule in decision.matched[:20]
    ]
    blocks.append(section("*Rules that apply*\n" + ("\n".join(cited) or "_None_")))
    lines = [
        f"*Recommended:* {recommendation_text(decision.recommended, dispute.currency)}",
        "*Allowed:* " + (", ".join(resolution_label(r) for r in decision.allowed) or "none"),
    ]
    if decision.restocking_fee_percent:
        lines.append(f"*Restocking fee:* {decision.restocking_fee_percent}%")
    missing = ", ".join(kind.label for kind in decision.missing_evidence)
    lines.append(f"*Evidence still required:* {missing or 'none'}")
    lines.append(approval_text(decision))
    blocks.append(
        section(
            "\n".join(lines),
            accessory={
                "type": "button",
                "action_id": ActionId.POLICY_WHY.value,
                "text": {"type": "plain_text", "text": "Why?"},
                "value": Subject(dispute=dispute.number).encode(),
            },
        )
    )
    blocks.append(review_button(dispute.number))
    blocks.append(
        context(
            f"Pack {escape(decision.pack_name)} {escape(decision.pack_version)} · "
            f"`{decision.pack_hash[:12]}`"
        )
    )
    recommended = recommendation_text(decision.recommended, dispute.currency)
    return Message(f"Policy for {dispute.ref}: {recommended}", blocks)


def why_modal(case: CaseFile, decision: Decision) -> dict[str, Any]:
    """Every rule, matched first, with each condition's fact value and result."""
    traces = sorted(decision.trace, key=lambda t: not t.matched)
    blocks: list[dict[str, Any]] = [
        context(
            f"{case.dispute.ref} · pack {escape(decision.pack_name)} "
            f"{escape(decision.pack_version)}: ✅ passed, ❌ failed, "
            "❔ fact unknown (counts as false)"
        )
    ]
    titles = {rule.id: rule for rule in decision.matched}
    for trace in traces[: MODAL_BLOCKS - 2]:
        blocks.append(section(_trace_text(trace, titles.get(trace.id))))
    if len(traces) > MODAL_BLOCKS - 2:
        blocks.append(context(f"…and {len(traces) - (MODAL_BLOCKS - 2)} more rules not shown"))
    return {
        "type": "modal",
        "callback_id": "policy.why",
        "title": {"type": "plain_text", "text": clip(f"Why · {case.dispute.ref}", 24)},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": blocks,
    }


def _trace_text(trace: RuleTrace, matched: Any) -> str:
    head = "✅ *matched*" if trace.matched else "▫️ not matched"
    title = f" · {escape(matched.citation)}" if matched is not None else ""
    lines = [f"{head} `{escape(trace.id)}`{title}"]
    if not trace.checks:
        lines.append("   (no conditions: always applies)")
    for check in trace.checks[:25]:
        mark = "❔" if check.unknown else ("✅" if check.passed else "❌")
        actual = "unknown" if check.unknown else escape(_show(check.actual))
        lines.append(
            f"{mark} `{escape(check.path)}` {escape(check.fact)} {escape(check.operator)} "
            f"{escape(_show(check.expected))} — actual: {actual}"
        )
    return clip("\n".join(lines), 3000)


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def search_results(words: str, rules: list[PolicyRule]) -> Message:
    if not rules:
        text = f"No policy rule matches “{words}”. Try a reason such as `damaged` or a word."
        return Message(text, [section(escape(text))])
    blocks: list[dict[str, Any]] = [section(f"*Policy rules for “{escape(clip(words, 100))}”*")]
    for rule in rules[:10]:
        blocks.append(
            section(f"*{escape(rule.citation)} — {escape(rule.title)}*\n{escape(rule.text)}")
        )
    if len(rules) > 10:
        blocks.append(context(f"…and {len(rules) - 10} more; narrow the search."))
    return Message(f"{len(rules)} policy rules match “{words}”", blocks)
