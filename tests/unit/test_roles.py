"""Who may approve money: the roles file, roles through groups, limits and the two-person rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from disputes.errors import NotAllowed
from disputes.roles import Role, Roles, RolesError

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
) -> Role:
    return roles.check_approval(
        approver=approver,
        approver_groups=groups,
        proposer=proposer,
        amount_minor=amount_minor,
        currency=currency,
        supervisor_required=supervisor_required,
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


def test_limit_minor_per_currency(roles: Roles) -> None:
    assert roles.limit_minor(Role.MANAGER, "USD") == 20000
    assert roles.limit_minor(Role.MANAGER, "jpy") == 200
    assert roles.limit_minor(Role.MANAGER, "KWD") == 200000
    assert roles.limit_minor(Role.AGENT, "USD") == 0
    assert roles.limit_minor(Role.SUPERVISOR, "USD") is None


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


def test_limits_in_yen(roles: Roles) -> None:
    assert approve(roles, "U0MANAGER1", 200, currency="JPY") is Role.MANAGER
    assert "above your approval limit of 200 JPY" in refused(
        roles, "U0MANAGER1", 201, currency="JPY"
    )
    assert "two-person rule above 100 JPY" in refused(
        roles, "U0MANAGER1", 101, currency="JPY", proposer="U0MANAGER1"
    )


def test_limit_the_currency_cannot_express_refuses_approval(tmp_path: Path) -> None:
    text = ROLES_YAML.replace('approval_limit: "200.00"', 'approval_limit: "200.50"')
    roles = Roles.load(write(tmp_path, text))
    assert approve(roles, "U0MANAGER1", 20050, currency="USD") is Role.MANAGER
    with pytest.raises(RolesError, match=r"roles\.manager\.approval_limit: 200\.50"):
        roles.limit_minor(Role.MANAGER, "JPY")
    message = refused(roles, "U0MANAGER1", 100, currency="JPY")
    assert message == (
        "Approval is blocked: roles.manager.approval_limit is 200.50, which is not a whole "
        "amount in JPY. Fix ROLES_FILE or ask a supervisor to approve."
    )


def test_two_person_threshold_the_currency_cannot_express_refuses(tmp_path: Path) -> None:
    text = ROLES_YAML.replace('"100.00"', '"100.50"')
    roles = Roles.load(write(tmp_path, text))
    message = refused(roles, "U0MANAGER1", 100, currency="JPY", proposer="U0MANAGER2")
    assert "two_person_rule_above is 100.50" in message


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
