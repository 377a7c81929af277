"""The policy card in a dispute's thread, its "Why?" trace, and policy search results."""

from __future__ import annotations

from typing import Any

from blocks.ids import ActionId, Subject
from blocks.kit import button, context, header, plain, section
from blocks.labels import recommendation_text, resolution_label
from blocks.review_modal import review_actions
from blocks.text import Message, clip_escaped, escape, inline
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
        f"• *{inline(rule.citation, 100)}* — {inline(rule.title, 200)}"
        for rule in decision.matched[:20]
    ]
    blocks.append(section("*Rules that apply*\n" + ("\n".join(cited) or "_None_")))
    lines = [
        f"*Recommended:* {escape(recommendation_text(decision.recommended, dispute.currency))}",
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
            accessory=button(ActionId.POLICY_WHY, "Why?", Subject(dispute=dispute.number)),
        )
    )
    blocks.append(review_actions(case))
    blocks.append(
        context(
            f"Pack {inline(decision.pack_name, 100)} {inline(decision.pack_version, 40)} · "
            f"`{inline(decision.pack_hash[:12])}`"
        )
    )
    recommended = escape(recommendation_text(decision.recommended, dispute.currency))
    return Message(f"Policy for {dispute.ref}: {recommended}", blocks)


def why_modal(case: CaseFile, decision: Decision) -> dict[str, Any]:
    """Every rule, matched first, with each condition's fact value and result."""
    traces = sorted(decision.trace, key=lambda t: not t.matched)
    blocks: list[dict[str, Any]] = [
        context(
            f"{case.dispute.ref} · pack {inline(decision.pack_name, 100)} "
            f"{inline(decision.pack_version, 40)}: ✅ passed, ❌ failed, "
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
        "title": plain(f"Why · {case.dispute.ref}", 24),
        "close": plain("Close", 24),
        "blocks": blocks,
    }


def _trace_text(trace: RuleTrace, matched: Any) -> str:
    head = "✅ *matched*" if trace.matched else "▫️ not matched"
    title = f" · {inline(matched.citation, 100)}" if matched is not None else ""
    lines = [f"{head} `{inline(trace.id, 100)}`{title}"]
    if not trace.checks:
        lines.append("   (no conditions: always applies)")
    for check in trace.checks[:25]:
        mark = "❔" if check.unknown else ("✅" if check.passed else "❌")
        actual = "unknown" if check.unknown else inline(_show(check.actual), 300)
        lines.append(
            f"{mark} `{inline(check.path, 100)}` {inline(check.fact, 100)} "
            f"{inline(check.operator, 40)} {inline(_show(check.expected), 300)} — actual: {actual}"
        )
    return clip_escaped("\n".join(lines), 3000)


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def search_results(words: str, rules: list[PolicyRule]) -> Message:
    if not rules:
        text = (
            f"No policy rule matches “{inline(words, 100)}”. "
            "Try a reason such as `damaged` or a word."
        )
        return Message(text, [section(text)])
    blocks: list[dict[str, Any]] = [section(f"*Policy rules for “{inline(words, 100)}”*")]
    for rule in rules[:10]:
        blocks.append(
            section(
                f"*{inline(rule.citation, 100)} — {inline(rule.title, 200)}*\n{escape(rule.text)}"
            )
        )
    if len(rules) > 10:
        blocks.append(context(f"…and {len(rules) - 10} more; narrow the search."))
    return Message(f"{len(rules)} policy rules match “{inline(words, 100)}”", blocks)
