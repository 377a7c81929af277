"""Who may approve money: the roles file, roles through groups, limits and the two-person rule."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from disputes.errors import NotAllowed
from disputes.roles import Roles, RolesError
from domain.roles import Role

ROLES_YAML = """\
roles:
  supervisor: {users: [U0SUPER], groups: [S0456], approval_limit: null}
  manager:    {users: [U0MANAGER1, U0MANAGER2], groups: [S0MANAGERS], approval_limit: "200.00"}
  agent:      {users: [U0AGENT, U0MANAGER1], approval_limit: "0"}
two_person_rule_above: "100.00"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roles.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def roles(tmp_path: Path) -> Roles:
    return Roles.load(write(tmp_path, ROLES_YAML))


def approve(
    roles: Roles,
    approver: str,
    amount_minor: int,
    *,
    currency: str = "USD",
    groups: tuple[str, ...] = (),
    proposer: str = "U0AGENT",
    supervisor_required: bool = False,
    approved_before_minor: int = 0,
    self_approved_before_minor: int = 0,
    order_id: str | None = None,
    supervisor_cause: str | None = None,
) -> Role:
    return roles.check_approval(
        approver=approver,
        approver_groups=groups,
        proposer=proposer,
        amount_minor=amount_minor,
        currency=currency,
        supervisor_required=supervisor_required,
        approved_before_minor=approved_before_minor,
        self_approved_before_minor=self_approved_before_minor,
        order_id=order_id,
        supervisor_cause=supervisor_cause,
    )


def refused(roles: Roles, approver: str, amount_minor: int, **kw: object) -> str:
    with pytest.raises(NotAllowed) as exc:
        approve(roles, approver, amount_minor, **kw)  # type: ignore[arg-type]
    return str(exc.value)


# -- roles ---------------------------------------------------------------------------


def test_roles_rank_lowest_first() -> None:
    assert [r.rank for r in (Role.AGENT, Role.MANAGER, Role.SUPERVISOR)] == [0, 1, 2]


def test_role_of_direct_group_and_highest(roles: Roles) -> None:
    assert roles.role_of("U0AGENT") is Role.AGENT
    assert roles.role_of("U0SUPER") is Role.SUPERVISOR
    # Listed as agent and as manager: the higher role wins.
    assert roles.role_of("U0MANAGER1") is Role.MANAGER
    # Through a group only.
    assert roles.role_of("U0NEW", ["S0MANAGERS"]) is Role.MANAGER
    assert roles.role_of("U0NEW", ["S0OTHER", "S0456"]) is Role.SUPERVISOR
    # A manager who is also in the supervisors' group is a supervisor.
    assert roles.role_of("U0MANAGER2", ["S0456"]) is Role.SUPERVISOR
    assert roles.role_of("U0NEW") is None
    assert roles.role_of("U0NEW", ["S0OTHER"]) is None


def test_needs_groups(tmp_path: Path, roles: Roles) -> None:
    assert roles.needs_groups()
    no_groups = ROLES_YAML.replace("groups: [S0456], ", "").replace("groups: [S0MANAGERS], ", "")
    assert not Roles.load(write(tmp_path, no_groups)).needs_groups()
    empty = ROLES_YAML.replace("[S0456]", "[]").replace("[S0MANAGERS]", "[]")
    assert not Roles.load(write(tmp_path, empty)).needs_groups()


def test_bare_amounts_are_in_usd_without_a_currency_key(roles: Roles) -> None:
    assert roles.currency == "USD"
    assert roles.limit_minor(Role.MANAGER, "USD") == 20000
    assert roles.limit_minor(Role.MANAGER, "usd") == 20000
    # Not 200 JPY nor 200.000 KWD: the file names no limit in those currencies.
    assert roles.limit_minor(Role.MANAGER, "jpy") == 0
    assert roles.limit_minor(Role.MANAGER, "KWD") == 0
    assert not roles.has_limit_in(Role.MANAGER, "KWD")
    assert roles.has_limit_in(Role.MANAGER, "USD")
    assert roles.limit_minor(Role.AGENT, "USD") == 0
    assert roles.limit_minor(Role.SUPERVISOR, "USD") is None
    assert roles.limit_minor(Role.SUPERVISOR, "KWD") is None
    assert roles.has_limit_in(Role.SUPERVISOR, "KWD")
    assert roles.two_person_minor("USD") == 10000


# -- approval ------------------------------------------------------------------------


def test_no_role_cannot_approve(roles: Roles) -> None:
    message = refused(roles, "U0STRANGER", 100)
    assert message == (
        "You cannot approve refunds: ask a manager or supervisor (roles are set in ROLES_FILE)."
    )


def test_agent_with_limit_zero_cannot_approve_even_nothing(roles: Roles) -> None:
    assert refused(roles, "U0AGENT", 0).startswith("You cannot approve refunds")
    assert refused(roles, "U0AGENT", 1).startswith("You cannot approve refunds")


def test_agent_with_a_limit_may_approve_up_to_it(tmp_path: Path) -> None:
    text = ROLES_YAML.replace('approval_limit: "0"', 'approval_limit: "20.00"')
    roles = Roles.load(write(tmp_path, text))
    assert approve(roles, "U0AGENT", 2000, proposer="U0MANAGER1") is Role.AGENT
    assert "above your approval limit of 20.00 USD" in refused(
        roles, "U0AGENT", 2001, proposer="U0MANAGER1"
    )


def test_manager_limit_boundary(roles: Roles) -> None:
    assert approve(roles, "U0MANAGER1", 20000) is Role.MANAGER
    message = refused(roles, "U0MANAGER1", 20001)
    assert message == (
        "200.01 USD is above your approval limit of 200.00 USD as manager: ask a supervisor."
    )


def test_manager_through_group_has_the_managers_limit(roles: Roles) -> None:
    assert approve(roles, "U0NEW", 20000, groups=("S0MANAGERS",)) is Role.MANAGER
    assert "above your approval limit" in refused(roles, "U0NEW", 20001, groups=("S0MANAGERS",))


def test_supervisor_has_no_limit(roles: Roles) -> None:
    assert approve(roles, "U0SUPER", 10**12) is Role.SUPERVISOR
    assert approve(roles, "U0NEW", 10**12, groups=("S0456",)) is Role.SUPERVISOR


def test_supervisor_with_a_limit_is_told_to_raise_it(tmp_path: Path) -> None:
    text = ROLES_YAML.replace("approval_limit: null", 'approval_limit: "1000.00"')
    roles = Roles.load(write(tmp_path, text))
    message = refused(roles, "U0SUPER", 100001)
    assert message.endswith("as supervisor: raise it in ROLES_FILE.")


def test_supervisor_required(roles: Roles) -> None:
    message = refused(roles, "U0MANAGER1", 100, supervisor_required=True)
    assert message.startswith("Only a supervisor can approve this: ")
    assert approve(roles, "U0SUPER", 100, supervisor_required=True) is Role.SUPERVISOR


def test_the_refusal_names_what_requires_a_supervisor(roles: Roles) -> None:
    cause = "Frequent returns are reviewed by a supervisor (Returns Policy §1.2)"
    message = refused(roles, "U0MANAGER1", 100, supervisor_required=True, supervisor_cause=cause)
    assert message == f"Only a supervisor can approve this: {cause}."


def test_two_person_rule_boundary(roles: Roles) -> None:
    assert approve(roles, "U0MANAGER1", 10000, proposer="U0MANAGER1") is Role.MANAGER
    message = refused(roles, "U0MANAGER1", 10001, proposer="U0MANAGER1")
    assert message == (
        "You proposed this; someone else must approve it (two-person rule above 100.00 USD)."
    )
    assert approve(roles, "U0MANAGER2", 10001, proposer="U0MANAGER1") is Role.MANAGER


def test_two_person_rule_binds_supervisors_too(roles: Roles) -> None:
    message = refused(roles, "U0SUPER", 50000, proposer="U0SUPER")
    assert "two-person rule" in message


def test_two_person_rule_can_be_switched_off(tmp_path: Path) -> None:
    text = ROLES_YAML.replace('two_person_rule_above: "100.00"', "two_person_rule_above: null")
    roles = Roles.load(write(tmp_path, text))
    assert approve(roles, "U0MANAGER1", 20000, proposer="U0MANAGER1") is Role.MANAGER


def test_limits_in_yen(tmp_path: Path) -> None:
    text = ROLES_YAML.replace('"200.00"', '{USD: "200.00", JPY: "30000"}').replace(
        '"100.00"', '{USD: "100.00", JPY: "15000"}'
    )
    roles = Roles.load(write(tmp_path, text))
    assert approve(roles, "U0MANAGER1", 30000, currency="JPY") is Role.MANAGER
    assert "above your approval limit of 30000 JPY" in refused(
        roles, "U0MANAGER1", 30001, currency="JPY"
    )
    assert "two-person rule above 15000 JPY" in refused(
        roles, "U0MANAGER1", 15001, currency="JPY", proposer="U0MANAGER1"
    )


# -- currencies ----------------------------------------------------------------------


def manager_limit(tmp_path: Path, limit: str, head: str = "") -> Roles:
    text = head + ROLES_YAML.replace('"200.00"', limit, 1)
    return Roles.load(write(tmp_path, text))


def test_bare_amount_is_in_the_files_currency(tmp_path: Path) -> None:
    roles = manager_limit(tmp_path, '"200.00"', head="currency: EUR\n")
    assert roles.currency == "EUR"
    assert roles.limit_minor(Role.MANAGER, "EUR") == 20000
    assert roles.limit_minor(Role.MANAGER, "USD") == 0
    assert roles.two_person_minor("EUR") == 10000
    assert approve(roles, "U0MANAGER1", 20000, currency="EUR") is Role.MANAGER
    assert "above your approval limit of 200.00 EUR" in refused(
        roles, "U0MANAGER1", 20001, currency="EUR"
    )


def test_amount_with_its_currency(tmp_path: Path) -> None:
    roles = manager_limit(tmp_path, '"200.00 USD"', head="currency: EUR\n")
    assert roles.limit_minor(Role.MANAGER, "USD") == 20000
    assert roles.limit_minor(Role.MANAGER, "EUR") == 0
    roles = manager_limit(tmp_path, '"150.000 KWD"')
    assert roles.limit_minor(Role.MANAGER, "KWD") == 150000
    assert roles.limit_minor(Role.MANAGER, "USD") == 0
    assert approve(roles, "U0MANAGER1", 150000, currency="KWD") is Role.MANAGER


def test_amounts_per_currency(tmp_path: Path) -> None:
    roles = manager_limit(tmp_path, '{USD: "200.00", EUR: "180.00", JPY: "30000", KWD: 60}')
    assert roles.limit_minor(Role.MANAGER, "USD") == 20000
    assert roles.limit_minor(Role.MANAGER, "EUR") == 18000
    assert roles.limit_minor(Role.MANAGER, "JPY") == 30000
    assert roles.limit_minor(Role.MANAGER, "KWD") == 60000
    assert roles.limit_minor(Role.MANAGER, "GBP") == 0
    assert approve(roles, "U0MANAGER1", 18000, currency="EUR") is Role.MANAGER
    assert "above your approval limit of 180.00 EUR" in refused(
        roles, "U0MANAGER1", 18001, currency="EUR"
    )


def test_two_person_rule_in_each_form(tmp_path: Path) -> None:
    for above, currency, minor in [
        ('"100.00"', "USD", 10000),
        ('"100.00 EUR"', "EUR", 10000),
        ('{USD: "100.00", JPY: "15000"}', "JPY", 15000),
    ]:
        text = ROLES_YAML.replace(
            'two_person_rule_above: "100.00"', f"two_person_rule_above: {above}"
        )
        roles = Roles.load(write(tmp_path, text))
        assert roles.two_person_minor(currency) == minor


def test_manager_cannot_approve_in_a_currency_without_a_limit(roles: Roles) -> None:
    # 150.000 KWD is about 490 USD: a bare "200.00" no longer lets a manager approve it.
    message = refused(roles, "U0MANAGER1", 150000, currency="KWD")
    assert message == (
        "You cannot approve this: no approval limit in KWD is set for manager in ROLES_FILE, "
        "so a supervisor must approve it."
    )
    assert "supervisor must approve" in refused(
        roles, "U0NEW", 1, currency="KWD", groups=("S0MANAGERS",)
    )


def test_agent_cannot_approve_in_a_currency_without_a_limit(tmp_path: Path) -> None:
    text = ROLES_YAML.replace('approval_limit: "0"', 'approval_limit: "20.00"')
    roles = Roles.load(write(tmp_path, text))
    message = refused(roles, "U0AGENT", 100, currency="EUR", proposer="U0MANAGER1")
    assert "no approval limit in EUR is set for agent" in message
    assert "a supervisor must approve it" in message


def test_supervisor_without_a_limit_approves_any_currency(roles: Roles) -> None:
    assert approve(roles, "U0SUPER", 150000, currency="KWD") is Role.SUPERVISOR
    assert approve(roles, "U0SUPER", 10**9, currency="JPY") is Role.SUPERVISOR


def test_supervisor_whose_limit_lacks_the_currency_is_refused(tmp_path: Path) -> None:
    for limit in ('"5000.00 USD"', '{USD: "5000.00", EUR: "4500.00"}'):
        text = ROLES_YAML.replace("approval_limit: null", f"approval_limit: {limit}")
        roles = Roles.load(write(tmp_path, text))
        assert approve(roles, "U0SUPER", 500000, currency="USD") is Role.SUPERVISOR
        message = refused(roles, "U0SUPER", 1000, currency="KWD")
        assert "no approval limit in KWD is set for supervisor in ROLES_FILE" in message


def test_two_person_rule_applies_at_any_amount_in_a_currency_it_does_not_name(
    roles: Roles,
) -> None:
    assert roles.two_person_minor("KWD") == 0
    message = refused(roles, "U0SUPER", 1, currency="KWD", proposer="U0SUPER")
    assert message == (
        "You proposed this; someone else must approve it (two-person rule: ROLES_FILE sets "
        "no threshold in KWD, so it applies to any amount)."
    )
    assert approve(roles, "U0SUPER", 1, currency="KWD", proposer="U0MANAGER1") is Role.SUPERVISOR
    # Nothing to refund (a replacement): no money moves, so the rule has nothing to bind.
    assert approve(roles, "U0SUPER", 0, currency="KWD", proposer="U0SUPER") is Role.SUPERVISOR


def test_bare_amounts_without_a_currency_key_are_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, ROLES_YAML)
    with caplog.at_level(logging.INFO, logger="disputes.roles"):
        Roles.load(path)
    notes = [r for r in caplog.records if "amounts without a currency" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in notes] == [
        (
            logging.INFO,
            f"ROLES_FILE {path}: amounts without a currency are in USD (set currency: to change)",
        )
    ]


@pytest.mark.parametrize(
    "text",
    [
        "currency: USD\n" + ROLES_YAML,
        ROLES_YAML.replace('"200.00"', '"200.00 USD"')
        .replace('"0"', '{USD: "0"}')
        .replace('"100.00"', '"100.00 USD"'),
    ],
)
def test_no_currency_note_when_every_amount_has_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    with caplog.at_level(logging.INFO, logger="disputes.roles"):
        Roles.load(write(tmp_path, text))
    assert not [r for r in caplog.records if "amounts without a currency" in r.getMessage()]


# -- per order -----------------------------------------------------------------------


def test_limit_applies_to_what_was_approved_on_the_order(roles: Roles) -> None:
    # Six successive 100.00 approvals on one order: a 200.00 limit stops the third.
    approved, refusals = 0, []
    for _ in range(6):
        try:
            approve(roles, "U0MANAGER1", 10000, approved_before_minor=approved, order_id="ORD-1001")
        except NotAllowed as exc:
            refusals.append(str(exc))
        else:
            approved += 10000
    assert approved == 20000
    assert len(refusals) == 4
    assert refusals[0] == (
        "100.00 USD, with the 200.00 USD you already approved on ORD-1001 in the last 90 days "
        "(300.00 USD in all), is above your approval limit of 200.00 USD as manager: "
        "ask a supervisor."
    )
    # Up to the limit exactly is fine; a supervisor with no limit approves the rest.
    assert approve(roles, "U0MANAGER1", 5000, approved_before_minor=15000) is Role.MANAGER
    assert approve(roles, "U0SUPER", 10000, approved_before_minor=10**9) is Role.SUPERVISOR


def test_cumulative_refusal_without_an_order_id(roles: Roles) -> None:
    message = refused(roles, "U0MANAGER1", 100, approved_before_minor=20000)
    assert "you already approved on this order in the last 90 days" in message


def test_approving_no_money_is_not_stopped_by_what_was_approved(roles: Roles) -> None:
    assert approve(roles, "U0MANAGER1", 0, approved_before_minor=50000) is Role.MANAGER
    assert (
        approve(roles, "U0MANAGER1", 0, proposer="U0MANAGER1", self_approved_before_minor=50000)
        is Role.MANAGER
    )


def test_two_person_rule_applies_to_what_was_self_approved_on_the_order(roles: Roles) -> None:
    def own(amount_minor: int, before: int, approver: str = "U0MANAGER1") -> Role:
        return approve(
            roles,
            approver,
            amount_minor,
            proposer="U0MANAGER1",
            self_approved_before_minor=before,
            order_id="ORD-1001",
        )

    assert own(6000, 0) is Role.MANAGER
    with pytest.raises(NotAllowed) as exc:
        own(6000, 6000)
    assert str(exc.value) == (
        "You proposed this, and with the 60.00 USD you already approved of your own proposals "
        "on ORD-1001 in the last 90 days it comes to 120.00 USD: someone else must approve it "
        "(two-person rule above 100.00 USD)."
    )
    assert own(4000, 6000) is Role.MANAGER
    # Someone other than the proposer is bound by their own limit only.
    assert own(6000, 6000, approver="U0MANAGER2") is Role.MANAGER


@pytest.mark.parametrize("field", ["approved_before_minor", "self_approved_before_minor"])
def test_negative_sums_before_are_a_bug(roles: Roles, field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be zero or more"):
        approve(roles, "U0SUPER", 1, **{field: -1})  # type: ignore[arg-type]


def test_negative_amount_is_a_bug(roles: Roles) -> None:
    with pytest.raises(ValueError, match="zero or more"):
        approve(roles, "U0SUPER", -1)


def test_nobody_may_approve_without_a_roles_file() -> None:
    roles = Roles.nobody()
    assert roles.role_of("U0SUPER", ["S0456"]) is None
    assert not roles.needs_groups()
    assert refused(roles, "U0SUPER", 1).startswith("You cannot approve refunds")
    assert refused(roles, "U0SUPER", 0).startswith("You cannot approve refunds")


# -- loading -------------------------------------------------------------------------

ROLE_LINE = '  manager: {users: [U0MANAGER1], approval_limit: "200.00"}\n'
TAIL = 'two_person_rule_above: "100.00"\n'


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("roles: [unclosed\n", "line 2", "YAML syntax error"),
        ("- just\n- a list\n", "file", "expected a mapping with roles:"),
        ("", "file", "expected a mapping"),
        (TAIL, "roles", "required"),
        ("roles:\n" + ROLE_LINE, "two_person_rule_above", "required: an amount"),
        ("roles:\n" + ROLE_LINE + ROLE_LINE + TAIL, "line 3", "duplicate key 'manager'"),
        (
            "roles:\n  boss: {users: [U0X], approval_limit: null}\n" + TAIL,
            "roles.boss",
            "unknown role 'boss': expected agent, manager or supervisor",
        ),
        (
            "roles:\n  manager: {users: [U0X]}\n" + TAIL,
            "roles.manager.approval_limit",
            'required: an amount such as "200.00", or null for no limit',
        ),
        (
            "roles:\n  manager: {users: [U0X], approval_limit: 200.00}\n" + TAIL,
            "roles.manager.approval_limit",
            'write money as a quoted decimal string, like "200.00"',
        ),
        (
            'roles:\n  manager: {users: [U0X], approval_limit: "-5"}\n' + TAIL,
            "roles.manager.approval_limit",
            "must be zero or more",
        ),
        (
            'roles:\n  manager: {users: [U0X], approval_limit: "lots"}\n' + TAIL,
            "roles.manager.approval_limit",
            "not a money amount: 'lots'",
        ),
        (
            'roles:\n  manager: {users: [U0X], approval_limit: "1.0001"}\n' + TAIL,
            "roles.manager.approval_limit",
            "too many decimal places",
        ),
        (
            'roles:\n  manager: {users: [U0X, "@max"], approval_limit: null}\n' + TAIL,
            "roles.manager.users[1]",
            "'@max' is not a Slack user id",
        ),
        (
            "roles:\n  manager: {users: [U0abc], approval_limit: null}\n" + TAIL,
            "roles.manager.users[0]",
            "'U0abc' is not a Slack user id",
        ),
        (
            "roles:\n  manager: {users: [W0GRID1], groups: [U0X], approval_limit: null}\n" + TAIL,
            "roles.manager.groups[0]",
            "'U0X' is not a Slack user group id",
        ),
        (
            "roles:\n  manager: {users: [12345], approval_limit: null}\n" + TAIL,
            "roles.manager.users[0]",
            "Input should be a valid string",
        ),
        (
            "roles:\n  manager: {users: [U0X], approval_limit: null, limit: 3}\n" + TAIL,
            "roles.manager.limit",
            "unknown field",
        ),
        (
            'roles: {}\ntwo_person_rule_above: "100.00"\nextra: 1\n',
            "extra",
            "unknown field",
        ),
        (
            'roles: {}\ntwo_person_rule_above: "ten"\n',
            "two_person_rule_above",
            "not a money amount",
        ),
        ("currency: usd\nroles: {}\n" + TAIL, "currency", "'usd' is not a currency code"),
        ("currency: EURO\nroles: {}\n" + TAIL, "currency", "'EURO' is not a currency code"),
        ("currency: 978\nroles: {}\n" + TAIL, "currency", "Input should be a valid string"),
        (
            'roles:\n  manager: {users: [U0X], approval_limit: {usd: "200.00"}}\n' + TAIL,
            "roles.manager.approval_limit",
            "'usd' is not a currency code",
        ),
        (
            'roles:\n  manager: {users: [U0X], approval_limit: {US: "200.00"}}\n' + TAIL,
            "roles.manager.approval_limit",
            "'US' is not a currency code",
        ),
        (
            'roles:\n  manager: {users: [U0X], approval_limit: {USD: "lots"}}\n' + TAIL,
            "roles.manager.approval_limit",
            "USD: not a money amount: 'lots'",
        ),
        (
            "roles:\n  manager: {users: [U0X], approval_limit: {EUR: 180.00}}\n" + TAIL,
            "roles.manager.approval_limit",
            'EUR: write money as a quoted decimal string, like "180.00"',
        ),
        (
            'roles:\n  manager: {users: [U0X], approval_limit: {EUR: "180.00 EUR"}}\n' + TAIL,
            "roles.manager.approval_limit",
            'EUR: write the amount alone, like "200.00" (the key is its currency)',
        ),
        (
            "roles:\n  manager: {users: [U0X], approval_limit: {}}\n" + TAIL,
            "roles.manager.approval_limit",
            "an empty map",
        ),
        (
            'roles:\n  manager: {users: [U0X], approval_limit: {USD: "200", JPY: "200.5"}}\n'
            + TAIL,
            "roles.manager.approval_limit.JPY",
            "200.5, which is not a whole amount in JPY",
        ),
        (
            'roles:\n  manager: {users: [U0X], approval_limit: "200.00 usd"}\n' + TAIL,
            "roles.manager.approval_limit",
            "'usd' is not a currency code",
        ),
        (
            'roles:\n  manager: {users: [U0X], approval_limit: "USD 200.00"}\n' + TAIL,
            "roles.manager.approval_limit",
            "not an amount and currency: 'USD 200.00'",
        ),
        (
            'roles:\n  manager: {users: [U0X], approval_limit: "200.5 JPY"}\n' + TAIL,
            "roles.manager.approval_limit",
            "200.5, which is not a whole amount in JPY",
        ),
        (
            'currency: JPY\nroles:\n  manager: {users: [U0X], approval_limit: "200.50"}\n' + TAIL,
            "roles.manager.approval_limit",
            "200.50, which is not a whole amount in JPY",
        ),
        (
            'currency: JPY\nroles: {}\ntwo_person_rule_above: "100.50"\n',
            "two_person_rule_above",
            "100.50, which is not a whole amount in JPY",
        ),
        (
            'roles: {}\ntwo_person_rule_above: {EUR: "100.00", KWD: "1.0005"}\n',
            "two_person_rule_above",
            "KWD: not a money amount: '1.0005' (too many decimal places)",
        ),
    ],
)
def test_load_errors(tmp_path: Path, text: str, where: str, what: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RolesError) as exc:
        Roles.load(path)
    message = str(exc.value)
    assert message.startswith(f"ROLES_FILE {path}: {where}: ")
    assert what in message
    assert "\n" not in message
    assert (exc.value.where, exc.value.path) == (where, str(path))


def test_load_error_counts_the_rest(tmp_path: Path) -> None:
    text = "roles:\n  manager: {users: [bad], groups: [bad]}\n" + TAIL
    with pytest.raises(RolesError, match=r"\(and 2 more\)$"):
        Roles.load(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yml"
    with pytest.raises(RolesError) as exc:
        Roles.load(path)
    assert str(exc.value) == f"ROLES_FILE {path}: file: no such file"


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RolesError, match=r": file: cannot read it"):
        Roles.load(tmp_path)  # a folder


def test_grid_user_ids_and_empty_roles_load(tmp_path: Path) -> None:
    text = "roles:\n  manager: {users: [W0GRID1], approval_limit: 50}\n" + TAIL
    roles = Roles.load(write(tmp_path, text))
    assert roles.role_of("W0GRID1") is Role.MANAGER
    assert roles.limit_minor(Role.MANAGER, "USD") == 5000
    assert Roles.load(write(tmp_path, "roles: {}\n" + TAIL)).role_of("W0GRID1") is None


# -- the permission table ------------------------------------------------------------------


def test_a_file_without_permissions_keeps_the_defaults(roles: Roles) -> None:
    from domain.roles import Action

    table = roles.spec.permissions
    assert (table.open, table.review, table.request_changes, table.retry) == (
        "agent",
        "agent",
        "manager",
        "manager",
    )
    assert (table.approve, table.see_customer, table.add_evidence) == ("agent", "agent", "agent")
    assert table.assign == "manager"
    assert not roles.may(Action.OPEN, "U0STRANGER")
    assert roles.may(Action.ASSIGN, "U0MANAGER1") and not roles.may(Action.ASSIGN, "U0AGENT")


def test_insights_are_for_managers_and_supervisors_by_default(roles: Roles) -> None:
    from domain.roles import Action

    assert roles.spec.permissions.view_insights == "manager"
    assert roles.may(Action.VIEW_INSIGHTS, "U0SUPER")
    assert roles.may(Action.VIEW_INSIGHTS, "U0MANAGER2")
    assert roles.may(Action.VIEW_INSIGHTS, "U0STRANGER", ["S0MANAGERS"])
    assert not roles.may(Action.VIEW_INSIGHTS, "U0AGENT")
    with pytest.raises(NotAllowed) as refused:
        roles.require(Action.VIEW_INSIGHTS, "U0AGENT")
    assert str(refused.value) == (
        "You cannot see insights: that needs the role of manager or supervisor "
        "(roles are set in ROLES_FILE)."
    )


def test_insights_may_be_given_to_everyone(tmp_path: Path) -> None:
    from domain.roles import Action

    roles = Roles.load(write(tmp_path, ROLES_YAML + "permissions: {view_insights: everyone}\n"))
    assert roles.may(Action.VIEW_INSIGHTS, "U0STRANGER")


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("permissions: {approve: admins}", "permissions.approve"),
        ("permissions: {delete: manager}", "unknown field"),
        ("permissions: {add_evidence: {RETURN_REQUEST: agent}}", "permissions.add_evidence"),
        ("permissions: [open]", "permissions"),
    ],
)
def test_a_permission_table_that_cannot_be_used_is_named(
    tmp_path: Path, section: str, problem: str
) -> None:
    with pytest.raises(RolesError) as error:
        Roles.load(write(tmp_path, ROLES_YAML + section + "\n"))
    assert problem in str(error.value)


def test_everyone_and_nobody(tmp_path: Path) -> None:
    from domain.roles import Action

    text = ROLES_YAML + "permissions: {open: everyone, retry: nobody}\n"
    roles = Roles.load(write(tmp_path, text))
    assert roles.may(Action.OPEN, "U0STRANGER")
    with pytest.raises(NotAllowed, match="nobody may"):
        roles.require(Action.RETRY, "U0SUPERVISOR1", where="D-3")


def test_a_roles_file_that_is_an_alias_bomb_is_refused(tmp_path: Path) -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for n in "bcdefghi":
        prev = chr(ord(n) - 1)
        bomb += f"{n}: &{n} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    with pytest.raises(RolesError, match="too many aliases"):
        Roles.load(write(tmp_path, bomb))
