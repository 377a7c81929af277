"""Customer message templates: every shipped one written for every default-pack case, strict
about missing facts, and sandboxed against what a pack's notice may try."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import pytest

import policies
from domain.money import Money
from domain.reasons import Reason
from domain.resolutions import MONEY_KINDS, Resolution
from policies.cases import CaseResult, run_cases
from policies.engine import Decision
from policies.loader import LoadedPack, load_pack
from policies.messages import (
    GENERAL_FOLDER,
    GENERAL_LABELS,
    PICKED,
    BrokenTemplate,
    MessageTemplates,
    MissingFact,
    Rendered,
    TemplateChoice,
    UnknownTemplate,
)
from policies.supervision import recommended_amount

PACK = Path(policies.__file__).parent / "packs" / "default.yml"
CASES = PACK.parent / "default.cases.yml"
GENERAL_KEYS = [f"general:{name}" for name in GENERAL_LABELS]
NOTICE_KEYS = [f"notice:{rule.id}" for rule in load_pack(PACK).rules if rule.rule.notice]
# The facts a template cannot do without; `amount` only where the offer pays money.
WHICH = {"dispute_ref", "order_id"}
NEEDS: dict[str, set[str]] = {
    "general:acknowledgement": WHICH,
    "general:request_photos": WHICH,
    "general:offer": WHICH | {"resolution", "rule", "offer_url", "offer_expires"},
    "general:final_decision": WHICH | {"resolution", "rule"},
    "general:reminder": WHICH | {"offer_url", "offer_expires"},
    "general:closing": WHICH | {"csat_url"},
}
NOTICE_NEEDS = WHICH | {"customer_name", "resolution", "rule"}
AMOUNT_SHOWN = {"full_refund", "partial_refund", "store_credit", "waive_fee", "overturn"}
HOSTILE = "{{ 7*7 }} {% raw %} <script>alert(1)</script> {{ ''.__class__ }}"


@pytest.fixture(scope="module")
def pack() -> LoadedPack:
    return load_pack(PACK)


@pytest.fixture(scope="module")
def templates(pack: LoadedPack) -> MessageTemplates:
    return MessageTemplates(pack)


@pytest.fixture(scope="module")
def case_facts(pack: LoadedPack) -> list[tuple[str, dict[str, Any]]]:
    results = run_cases(pack, CASES)
    return [(result.name, facts_of(index, result)) for index, result in enumerate(results)]


def facts_of(index: int, result: CaseResult) -> dict[str, Any]:
    """The facts the app gives a template for the dispute of a case: its recommendation and
    top rule; what the case does not know is left out."""
    decision = result.decision
    known = decision.facts
    facts: dict[str, Any] = {
        "dispute_ref": f"D-{index + 1}",
        "customer_name": "Jane Doe",
        "order_id": f"ORD-{2001 + index}",
        "missing_evidence": [kind.label for kind in decision.missing_evidence],
        "offer_url": f"https://desk.example.com/offers/{index + 1}",
        "offer_expires": "15 December 2026",
        "csat_url": f"https://desk.example.com/csat/{index + 1}",
        "team": "The Customer Care team",
    }
    if "reason" in known:
        facts["reason"] = Reason(known["reason"]).label
    if "claim_text" in known:
        facts["claim"] = known["claim_text"]
    if decision.recommended is not None:
        resolution = decision.recommended.resolution
        facts["resolution"] = resolution.value
        facts["resolution_label"] = resolution.label
        amount = _amount(decision, resolution)
        if amount is not None:
            facts["amount"] = str(amount)
    top = decision.matched[0]
    facts["rule"] = {"id": top.id, "citation": top.citation, "title": top.title, "text": top.text}
    return facts


def _amount(decision: Decision, resolution: Resolution) -> Money | None:
    known = decision.facts
    minor = recommended_amount(decision.recommended, known, decision.restocking_fee_percent)
    if minor is None and resolution is Resolution.STORE_CREDIT:
        minor = known.get("disputed_amount")
    currency = known.get("currency")
    return None if minor is None or currency is None else Money(minor, currency)


def rule_fact(pack: LoadedPack, rule_id: str) -> dict[str, str]:
    rule = pack.rule(rule_id).rule
    return {"id": rule.id, "citation": rule.citation, "title": rule.title, "text": rule.text}


def source_of(pack: LoadedPack, key: str) -> str:
    kind, _, name = key.partition(":")
    if kind == "general":
        return (GENERAL_FOLDER / f"{name}.j2").read_text(encoding="utf-8")
    notice = pack.rule(name).rule.notice
    assert notice is not None
    return (PACK.parent / notice).read_text(encoding="utf-8")


def names_used(pack: LoadedPack, key: str) -> set[str]:
    env = jinja2.Environment()
    return jinja2.meta.find_undeclared_variables(env.parse(source_of(pack, key)))


def needs(key: str, facts: dict[str, Any]) -> set[str]:
    needed = set(NEEDS.get(key, NOTICE_NEEDS))
    if key == "general:offer" and facts.get("resolution") in MONEY_KINDS:
        needed.add("amount")
    return needed


def top_name(fact: str) -> str:
    return re.split(r"[.\[]", fact, maxsplit=1)[0]


# ----------------------------------------------------------- every template, every case


@pytest.mark.parametrize("key", GENERAL_KEYS + NOTICE_KEYS)
def test_template_writes_every_default_pack_case(
    pack: LoadedPack,
    templates: MessageTemplates,
    case_facts: list[tuple[str, dict[str, Any]]],
    key: str,
) -> None:
    used = names_used(pack, key)
    written = 0
    for name, facts in case_facts:
        if key.startswith("notice:"):  # a notice cites its own rule
            facts = {**facts, "rule": rule_fact(pack, key.removeprefix("notice:"))}
        missing = needs(key, facts) - set(facts)
        if missing:
            with pytest.raises(MissingFact) as raised:
                templates.render(key, facts)
            assert top_name(raised.value.fact) in missing, name
            assert raised.value.template == key
            continue
        rendered = templates.render(key, facts)
        written += 1
        for text in (rendered.subject, rendered.text):
            for leftover in ("{{", "{%", "None", "Undefined"):
                assert leftover not in text, f"{name}: {leftover!r} in\n{text}"
        assert rendered.subject and "\n" not in rendered.subject
        both = f"{rendered.subject}\n{rendered.text}"
        for fact in ("dispute_ref", "order_id", "offer_url", "offer_expires", "csat_url"):
            if fact in used:
                assert facts[fact] in both, f"{name}: no {fact}"
        if "rule" in used:
            assert facts["rule"]["citation"] in rendered.text, name
        if "amount" in used and "amount" in facts and facts["resolution"] in AMOUNT_SHOWN:
            assert facts["amount"] in rendered.text, name
        assert rendered.text.startswith("Hi Jane Doe,"), name
        assert not re.search(r"[ \t]$", rendered.text, re.MULTILINE), name
        assert "\n\n\n" not in rendered.text, name
    assert written, f"{key} was written for no case"


def test_cases_reach_both_sides_of_the_needed_facts(
    case_facts: list[tuple[str, dict[str, Any]]],
) -> None:
    """The sweep above proves something only if some cases lack a resolution or an amount."""
    for fact in ("resolution", "amount"):
        assert any(fact not in facts for _, facts in case_facts), fact


# ------------------------------------------------------------------------- missing facts


def full_facts(pack: LoadedPack, rule_id: str = "condition-grade-c-d") -> dict[str, Any]:
    return {
        "dispute_ref": "D-7",
        "customer_name": "Jane Doe",
        "order_id": "ORD-1001",
        "reason": "Damaged",
        "claim": "It arrived cracked",
        "resolution": "partial_refund",
        "resolution_label": "Partial refund",
        "amount": "45.00 USD",
        "rule": rule_fact(pack, rule_id),
        "missing_evidence": ["Photos"],
        "offer_url": "https://desk.example.com/offers/7",
        "offer_expires": "15 December 2026",
        "csat_url": "https://desk.example.com/csat/7",
        "team": "The Customer Care team",
    }


def without(facts: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in facts.items() if name not in names}


@pytest.mark.parametrize(
    ("key", "dropped", "fact"),
    [
        ("general:offer", "offer_url", "offer_url"),
        ("general:offer", "amount", "amount"),
        ("general:reminder", "offer_expires", "offer_expires"),  # in the subject first
        ("general:closing", "csat_url", "csat_url"),
        ("general:final_decision", "rule", "rule"),
        ("notice:condition-grade-c-d", "rule", "rule"),
        ("notice:condition-grade-c-d", "resolution", "resolution"),
    ],
)
def test_a_missing_fact_is_named(
    pack: LoadedPack, templates: MessageTemplates, key: str, dropped: str, fact: str
) -> None:
    with pytest.raises(MissingFact) as raised:
        templates.render(key, without(full_facts(pack), dropped))
    assert (raised.value.fact, raised.value.template) == (fact, key)
    assert fact in str(raised.value) and key in str(raised.value)


def test_a_missing_attribute_of_a_fact_is_named_by_its_path(
    pack: LoadedPack, templates: MessageTemplates
) -> None:
    facts = full_facts(pack)
    facts["rule"] = without(facts["rule"], "citation")
    with pytest.raises(MissingFact) as raised:
        templates.render("notice:condition-grade-c-d", facts)
    assert raised.value.fact == "rule.citation"


def test_a_fact_given_as_none_is_missing(pack: LoadedPack, templates: MessageTemplates) -> None:
    with pytest.raises(MissingFact) as raised:
        templates.render("general:offer", {**full_facts(pack), "amount": None})
    assert raised.value.fact == "amount"


def test_amount_is_needed_only_where_the_offer_pays_money(
    pack: LoadedPack, templates: MessageTemplates
) -> None:
    facts = without(full_facts(pack), "amount")
    for resolution in Resolution:
        given = {**facts, "resolution": resolution.value, "resolution_label": resolution.label}
        for key in ("general:final_decision", "general:closing", "notice:condition-grade-c-d"):
            assert templates.render(key, given).text
        if resolution in MONEY_KINDS:
            with pytest.raises(MissingFact):
                templates.render("general:offer", given)
        else:
            assert templates.render("general:offer", given).text


@pytest.mark.parametrize("resolution", list(Resolution))
def test_the_amount_is_said_wherever_the_option_has_one(
    pack: LoadedPack, templates: MessageTemplates, resolution: Resolution
) -> None:
    given = {
        **full_facts(pack),
        "resolution": resolution.value,
        "resolution_label": resolution.label,
        "amount": "12.34 EUR",
    }
    for key in ("general:offer", "general:final_decision", "general:closing"):
        text = templates.render(key, given).text
        assert ("12.34 EUR" in text) == (resolution.value in AMOUNT_SHOWN), key


def test_optional_facts_have_gentle_defaults(pack: LoadedPack, templates: MessageTemplates) -> None:
    facts = without(full_facts(pack), "customer_name", "team", "resolution")
    acknowledged = templates.render("general:acknowledgement", facts).text
    assert acknowledged.startswith("Hi there,")
    assert acknowledged.endswith("Warm regards,\nThe Customer Care team")
    closing = templates.render("general:closing", facts).text
    assert "Rate us from 1 to 5" in closing and facts["csat_url"] in closing


def test_an_unknown_key_is_refused(
    tmp_path: Path, pack: LoadedPack, templates: MessageTemplates
) -> None:
    facts = full_facts(pack)
    for key in ("general:nope", "notice:nope", "offer", "general:", "general:../offer", ":offer"):
        with pytest.raises(UnknownTemplate):
            templates.render(key, facts)
    with pytest.raises(UnknownTemplate):  # a rule without a notice
        write_pack_templates(tmp_path, "").render("notice:plain", facts)
    with pytest.raises(UnknownTemplate):  # no pack, no notices
        MessageTemplates(None).render("notice:condition-grade-c-d", facts)


# ------------------------------------------------------------------ hostile facts, sandbox


@pytest.mark.parametrize("key", [*GENERAL_KEYS, "notice:condition-grade-c-d"])
def test_hostile_facts_come_out_verbatim(
    pack: LoadedPack, templates: MessageTemplates, key: str
) -> None:
    facts = {**full_facts(pack), "customer_name": HOSTILE, "order_id": HOSTILE}
    rendered = templates.render(key, facts)
    assert HOSTILE in rendered.text
    assert "49" not in rendered.text and "<class" not in rendered.text
    assert "&lt;" not in rendered.text  # plain text: nothing is escaped either


def test_a_fact_cannot_break_the_subject_onto_a_second_line(
    pack: LoadedPack, templates: MessageTemplates
) -> None:
    facts = {**full_facts(pack), "order_id": "ORD-1\r\nBcc: someone@example.com"}
    for key in (*GENERAL_KEYS, "notice:condition-grade-c-d"):
        subject = templates.render(key, facts).subject
        assert "\n" not in subject and "\r" not in subject
        assert "ORD-1 Bcc: someone@example.com" in subject


def write_pack_templates(folder: Path, notice: str, *, rule_id: str = "plain") -> MessageTemplates:
    """Templates of a one-rule pack in `folder` whose rule's notice is `notice` (none if empty)."""
    pack_file = folder / "pack.yml"
    line = f"  - {{id: {rule_id}, title: A rule, citation: '§1', text: Some text"
    if notice:
        (folder / "notice.j2").write_text(notice, encoding="utf-8")
        line += ", notice: notice.j2"
    pack_file.write_text(f'pack: test\nversion: "1"\nrules:\n{line}}}\n', encoding="utf-8")
    return MessageTemplates(load_pack(pack_file))


@pytest.mark.parametrize(
    "notice",
    [
        "Hi {{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ rule.__class__ }}",
        "{{ '{0.__class__}'.format(order_id) }}",
        "{{ range.__self__ }}",
    ],
)
def test_the_sandbox_refuses_what_a_pack_notice_should_not_reach(
    tmp_path: Path, pack: LoadedPack, notice: str
) -> None:
    templates = write_pack_templates(tmp_path, notice)
    with pytest.raises(BrokenTemplate) as raised:
        templates.render("notice:plain", full_facts(pack))
    message = str(raised.value)
    assert message.startswith("the message notice:plain cannot be written: ")
    assert "<class" not in message and "module" not in message and "object at 0x" not in message


def test_a_notice_may_set_its_own_subject(tmp_path: Path, pack: LoadedPack) -> None:
    notice = "{% set subject %}Good news about {{ order_id }}{% endset %}\nHi {{ customer_name }}"
    rendered = write_pack_templates(tmp_path, notice).render("notice:plain", full_facts(pack))
    assert rendered == Rendered("Good news about ORD-1001", "Hi Jane Doe")


def test_a_notice_without_a_subject_gets_the_default_which_needs_its_facts(
    tmp_path: Path, pack: LoadedPack
) -> None:
    templates = write_pack_templates(tmp_path, "Hi {{ customer_name }}")
    rendered = templates.render("notice:plain", full_facts(pack))
    assert rendered.subject == "About your order ORD-1001 (D-7)"
    with pytest.raises(MissingFact) as raised:
        templates.render("notice:plain", without(full_facts(pack), "order_id"))
    assert raised.value.fact == "order_id"


def test_output_is_tidied(tmp_path: Path, pack: LoadedPack) -> None:
    notice = "\n\nHi {{ customer_name }},   \n\n\n\n{% if false %}x{% endif %}\n\nBye \t\n\n"
    rendered = write_pack_templates(tmp_path, notice).render("notice:plain", full_facts(pack))
    assert rendered.text == "Hi Jane Doe,\n\nBye"


def test_any_other_failure_in_a_notice_is_said(tmp_path: Path, pack: LoadedPack) -> None:
    templates = write_pack_templates(tmp_path, "{{ 1 / 0 }}")
    with pytest.raises(BrokenTemplate, match="division by zero"):
        templates.render("notice:plain", full_facts(pack))


# ---------------------------------------------------------------------------- the picker


def test_choices_are_the_general_ones_then_the_notices_once_each(
    templates: MessageTemplates,
) -> None:
    # condition-grade-c-d and tags-and-packaging share partial.j2; approval-limits and
    # overturn-needs-supervisor share general.j2; shipping-not-refundable names shipping.j2.
    rule_ids = [
        "tags-and-packaging",
        "condition-grade-c-d",
        "no-such-rule",
        "shipping-not-refundable",
        "approval-limits",
        "overturn-needs-supervisor",
    ]
    assert templates.choices(rule_ids) == [
        TemplateChoice("general:acknowledgement", "Acknowledgement", "general"),
        TemplateChoice("general:request_photos", "Request for photos", "general"),
        TemplateChoice("general:offer", "Offer", "general"),
        TemplateChoice("general:final_decision", "Final decision", "general"),
        TemplateChoice(
            "notice:tags-and-packaging",
            "Notice: Return items unused, with tags and packaging (Returns Policy §4.2)",
            "notice",
        ),
        TemplateChoice(
            "notice:shipping-not-refundable",
            "Notice: Shipping is not refunded on change-of-mind returns (Returns Policy §7.2)",
            "notice",
        ),
        TemplateChoice(
            "notice:approval-limits",
            "Notice: Who approves a decision (Returns Policy §1.1)",
            "notice",
        ),
    ]


def test_without_rules_or_a_pack_only_the_general_ones_are_offered(
    templates: MessageTemplates,
) -> None:
    general = [f"general:{name}" for name in PICKED]
    assert [choice.key for choice in templates.choices()] == general
    assert [c.key for c in MessageTemplates(None).choices(["approval-limits"])] == general


def test_reminder_and_closing_are_not_picked_but_are_written(
    pack: LoadedPack, templates: MessageTemplates
) -> None:
    keys = {choice.key for choice in templates.choices()}
    for key in ("general:reminder", "general:closing"):
        assert key not in keys
        assert templates.render(key, full_facts(pack)).text


# --------------------------------------------------------------------- the shipped files


@pytest.mark.parametrize("name", list(GENERAL_LABELS))
def test_general_template_is_plain_text_with_a_subject(name: str) -> None:
    source = (GENERAL_FOLDER / f"{name}.j2").read_text(encoding="utf-8")
    assert source.startswith("{% set subject %}")
    assert not re.search(r"</?[a-z][^>]*>", source)
    assert "|safe" not in source.replace(" ", "")


def test_every_general_template_file_is_in_the_catalog() -> None:
    assert sorted(p.stem for p in GENERAL_FOLDER.glob("*.j2")) == sorted(GENERAL_LABELS)
