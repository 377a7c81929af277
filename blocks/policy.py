"""The policy card in a dispute's thread, its "Why?" trace, and policy search results."""

from __future__ import annotations

from typing import Any, NamedTuple

from blocks.ids import ActionId, Subject
from blocks.kit import button, context, divider, header, plain, section
from blocks.labels import recommendation_text, resolution_label, supervisor_cause_text
from blocks.policy_explain import because, explanation
from blocks.review_modal import review_actions
from blocks.text import Message, clip_escaped, escape, inline
from disputes.models import (
    PROPOSABLE,
    CaseFile,
    PolicyRule,
    RuleTrace,
)
from disputes.models import PolicyDecision as Decision
from domain.reasons import Reason

MODAL_BLOCKS = 100
WHY_RULES = 40  # matched rules listed in the Why modal; packs rarely match a dozen


def approval_text(decision: Decision, currency: str) -> str:
    if decision.needs_supervisor:
        cause = supervisor_cause_text(decision.supervisor_causes, currency)
        return (
            f":warning: A supervisor must approve: {cause}."
            if cause
            else (":warning: A supervisor must approve.")
        )
    return f"Approval: {decision.approval.role}."


def allowed_labels(decision: Decision) -> list[str]:
    """The allowed options, in the review modal's order and words (one list for both)."""
    return [resolution_label(r) for r in PROPOSABLE if r in decision.allowed]


def policy_card(case: CaseFile, decision: Decision, *, messaging: bool = False) -> Message:
    """The policy card, with the review's buttons (and "Message customer", when `messaging`)."""
    dispute = case.dispute
    blocks: list[dict[str, Any]] = [header(f"Policy · {dispute.ref}")]
    cited = [
        f"• *{inline(rule.citation, 100)}* — {inline(rule.title, 200)}"
        for rule in decision.matched[:20]
    ]
    blocks.append(section("*Rules that apply*\n" + ("\n".join(cited) or "_None_")))
    reasons = reason_choice(decision)
    if reasons is not None:
        blocks.append(
            _reason_section(dispute.number, *reasons, button_too=dispute.reason_can_change)
        )
    lines = [
        f"*Recommended:* {escape(recommendation_text(decision.recommended, dispute.currency))}",
        "*Allowed:* " + (", ".join(allowed_labels(decision)) or "none"),
    ]
    if decision.restocking_fee_percent:
        lines.append(f"*Restocking fee:* {decision.restocking_fee_percent}%")
    missing = ", ".join(kind.label for kind in decision.missing_evidence)
    lines.append(f"*Evidence still required:* {missing or 'none'}")
    lines.append(approval_text(decision, dispute.currency))
    blocks.append(
        section(
            "\n".join(lines),
            accessory=button(ActionId.POLICY_WHY, "Why?", Subject(dispute=dispute.number)),
        )
    )
    blocks.append(review_actions(case, messaging=messaging))
    blocks.append(
        context(
            f"Pack {inline(decision.pack_name, 100)} {inline(decision.pack_version, 40)} · "
            f"`{inline(decision.pack_hash[:12])}`"
        )
    )
    recommended = escape(recommendation_text(decision.recommended, dispute.currency))
    return Message(f"Policy for {dispute.ref}: {recommended}", blocks)


class ReasonChoice(NamedTuple):
    used: Reason  # the reason the policy was decided on
    opened: Reason  # the reason given when the dispute was opened
    returned: Reason  # the reason on the order's return request


def reason_choice(decision: Decision) -> ReasonChoice | None:
    """The two reasons when the one given at opening and the return request's differ."""
    facts = decision.facts
    try:
        used = Reason(facts["reason"])
        opened = Reason(facts["opened_reason"])
        returned = Reason(facts["return_reason"])
    except (KeyError, ValueError):
        return None
    if opened == returned or used not in (opened, returned):
        return None
    return ReasonChoice(used, opened, returned)


def _reason_section(
    number: int, used: Reason, opened: Reason, returned: Reason, *, button_too: bool = True
) -> dict[str, Any]:
    other = returned if used == opened else opened
    source = "the reason given when it was opened" if used == opened else "the return request's"
    text = (
        f"*Reasons differ:* the dispute was opened as *{opened.label}*; the return request "
        f"says *{returned.label}*.\nThe policy used *{used.label}* ({source})."
    )
    if not button_too:
        return section(text)
    switch = button(
        ActionId.POLICY_SWITCH_REASON,
        f"Use {other.label}",
        Subject(dispute=number, reason=other),
    )
    return section(text, accessory=switch)


def why_modal(case: CaseFile, decision: Decision) -> dict[str, Any]:
    """The decision in three plain sentences, then the rules that matched and why; every rule
    checked is one click away (`trace_modal`)."""
    dispute = case.dispute
    currency = dispute.currency
    blocks: list[dict[str, Any]] = [
        section(clip_escaped("\n\n".join(explanation(decision, currency)), 3000)),
    ]
    reasons = reason_choice(decision)
    if reasons is not None:  # switched on the card, where the answer can be posted
        blocks.append(_reason_section(dispute.number, *reasons, button_too=False))
    blocks.append(divider())
    matched = decision.matched[:WHY_RULES]
    blocks.append(
        section(
            f"*Rules that apply* ({len(decision.matched)})" if matched else "_No rule applies._"
        )
    )
    for rule in matched:
        why = because(decision, rule.id, currency)
        line = f"*{inline(rule.citation, 100)}* — {inline(rule.title, 200)}"
        if why:
            line += f"\nBecause {why}."
        blocks.append(section(clip_escaped(line, 3000)))
    if len(decision.matched) > WHY_RULES:
        blocks.append(context(f"…and {len(decision.matched) - WHY_RULES} more"))
    blocks.append(
        {
            "type": "actions",
            "elements": [
                button(
                    ActionId.POLICY_TRACE,
                    "Show every rule checked",
                    Subject(dispute=dispute.number),
                )
            ],
        }
    )
    blocks.append(
        context(
            f"{dispute.ref} · pack {inline(decision.pack_name, 100)} "
            f"{inline(decision.pack_version, 40)}"
        )
    )
    return {
        "type": "modal",
        "callback_id": "policy.why",
        "title": plain(f"Why · {dispute.ref}", 24),
        "close": plain("Close", 24),
        "blocks": blocks,
    }


def trace_modal(case: CaseFile, decision: Decision) -> dict[str, Any]:
    """Every rule checked, matched first, with each test's fact value and result."""
    traces = sorted(decision.trace, key=lambda t: not t.matched)
    blocks: list[dict[str, Any]] = [
        context(
            f"{case.dispute.ref} · pack {inline(decision.pack_name, 100)} "
            f"{inline(decision.pack_version, 40)}: ✅ test passed, ❌ test failed, "
            "❔ fact unknown (counts as failed)"
        )
    ]
    titles = {rule.id: rule for rule in decision.matched}
    for trace in traces[: MODAL_BLOCKS - 2]:
        blocks.append(section(_trace_text(trace, titles.get(trace.id))))
    if len(traces) > MODAL_BLOCKS - 2:
        blocks.append(context(f"…and {len(traces) - (MODAL_BLOCKS - 2)} more rules not shown"))
    return {
        "type": "modal",
        "callback_id": "policy.trace",
        "title": plain(f"Every rule · {case.dispute.ref}", 24),
        "close": plain("Back", 24),
        "blocks": blocks,
    }


def _trace_text(trace: RuleTrace, matched: Any) -> str:
    head = "*Matched*" if trace.matched else "Not matched"
    title = f" · {inline(matched.citation, 100)}" if matched is not None else ""
    lines = [f"{head}: `{inline(trace.id, 100)}`{title}"]
    if not trace.checks:
        lines.append("   (no conditions: always applies)")
    # A rule that did not match shows the tests that failed first: they are why.
    checks = trace.checks if trace.matched else sorted(trace.checks, key=lambda c: c.passed)
    for check in checks[:25]:
        mark = "❔" if check.unknown else ("✅" if check.passed else "❌")
        negated = " (must fail)" if ".not" in check.path else ""
        actual = "unknown" if check.unknown else inline(_show(check.actual), 300)
        lines.append(
            f"{mark} {inline(check.fact, 100)} {inline(check.operator, 40)} "
            f"{inline(_show(check.expected), 300)}{negated} — was {actual}"
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
