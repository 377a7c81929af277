"""`dispute-desk policy lint|explain|test` and `sla lint`: tools for policy authors; no Slack
settings needed. Their arguments are in `bot.cli`."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from blocks.labels import recommendation_text, resolution_label
from bot.errors import StartupError
from bot.settings import load_settings
from connectors.orders import protocol as orders
from connectors.orders.evidence_sources import default_evidence_sources
from connectors.orders.factory import order_source_from_spec
from disputes.evidence_gathering import collect_evidence
from disputes.intake import disputed_amount_minor
from domain.reasons import Reason, reason_from_word
from policies.cases import CasesError, run_cases
from policies.engine import Decision, evaluate
from policies.facts import facts_from_order
from policies.lint import lint_pack
from policies.loader import LoadedPack, PackError, load_pack
from policies.sla_file import lint_sla_file
from policies.yaml_source import Problem

EXIT_FAILED = 1


async def lint(args: argparse.Namespace) -> int:
    return _report(args.pack, lint_pack(args.pack))


async def sla_lint(args: argparse.Namespace) -> int:
    path = args.file or load_settings().sla_file
    return _report(path, lint_sla_file(path))


def _report(path: Path, problems: list[Problem]) -> int:
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {path}")
        return EXIT_FAILED
    print(f"{path}: no problems")
    return 0


def _load(path: Path) -> LoadedPack:
    try:
        return load_pack(path)
    except PackError as exc:
        raise StartupError(
            f"the policy pack {path} has problems:\n"
            + "\n".join(str(problem) for problem in exc.problems)
        ) from None


async def check_cases(args: argparse.Namespace) -> int:
    pack = _load(args.pack)
    try:
        results = run_cases(pack, args.cases)
    except CasesError as exc:
        raise StartupError(f"the cases file {args.cases} has problems:\n{exc}") from None
    failed = [result for result in results if not result.passed]
    for result in results:
        print(f"{'ok  ' if result.passed else 'FAIL'} {result.name}")
        if not result.passed:
            print("     " + result.diff.replace("\n", "\n     "))
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return EXIT_FAILED if failed else 0


async def explain(args: argparse.Namespace) -> int:
    settings = load_settings()
    pack = _load(settings.policy_pack)
    reason = None
    if args.reason:
        reason = reason_from_word(args.reason)
        if reason is None:
            words = ", ".join(r.value.lower() for r in Reason)
            raise StartupError(f"--reason {args.reason!r} names no reason; use one of: {words}")
    try:
        source = order_source_from_spec(settings.order_source)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    try:
        order = await source.get_order(args.order_id)
    except orders.OrderNotFound:
        raise StartupError(f"the order source has no order {args.order_id}") from None
    except orders.OrderSourceError as exc:
        raise StartupError(f"the order source failed: {exc}") from None
    finally:
        await source.aclose()
    evidence = await collect_evidence(order, default_evidence_sources(), per_source_timeout=5)
    reason = reason or (order.return_request.reason if order.return_request else Reason.OTHER)
    as_of = datetime.now(UTC)
    facts = facts_from_order(
        order,
        reason=reason,
        claim="",
        disputed_amount_minor=disputed_amount_minor(order, None, reason),
        evidence_present={draft.kind for draft in evidence.drafts},
        as_of=as_of,
    )
    decision = evaluate(pack, facts, as_of=as_of, trace=args.trace)
    print(f"{order.order_id} · {reason.label} · {pack.pack.pack} {pack.pack.version}")
    print(render_decision(decision, order.currency))
    if args.trace:
        print()
        print(render_trace(decision))
    return 0


def render_decision(decision: Decision, currency: str) -> str:
    lines = ["Rules that apply:"]
    for rule in decision.matched:
        lines.append(f"  {rule.citation} — {rule.title} [{rule.id}]")
        lines.append(f"      {rule.text}")
    if not decision.matched:
        lines.append("  none")
    lines.append(f"Recommended: {recommendation_text(decision.recommended, currency)}")
    lines.append("Allowed: " + (", ".join(resolution_label(r) for r in decision.allowed) or "none"))
    lines.append("Refused: " + (", ".join(resolution_label(r) for r in decision.refused) or "none"))
    if decision.restocking_fee_percent:
        lines.append(f"Restocking fee: {decision.restocking_fee_percent}%")
    missing = ", ".join(kind.label for kind in decision.missing_evidence)
    lines.append(f"Missing evidence: {missing or 'none'}")
    approver = "a supervisor" if decision.needs_supervisor else f"a {decision.approval.role}"
    lines.append(f"Approval needed: {approver}")
    return "\n".join(lines)


def render_trace(decision: Decision) -> str:
    lines = ["Trace (every rule, every condition):"]
    for trace in decision.trace:
        lines.append(f"  {'MATCHED' if trace.matched else 'no     '} {trace.id}")
        for check in trace.checks:
            result = "unknown -> false" if check.unknown else ("pass" if check.passed else "fail")
            actual = "unknown" if check.unknown else check.actual
            lines.append(
                f"      {check.path}: {check.fact} {check.operator} {check.expected!r}"
                f" (actual {actual!r}) {result}"
            )
    return "\n".join(lines)
