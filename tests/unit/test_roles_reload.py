"""The roles in force: ROLES_FILE reloaded on change, and the user groups it names."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from bot.errors import StartupError
from bot.money_wiring import GROUPS_TTL, GroupDirectory, load_roles
from disputes.errors import NotAllowed
from disputes.roles import CurrentRoles, Roles, RolesError
from domain.roles import Role

ROLES_YAML = """\
currency: USD
roles:
  supervisor: {users: [U0SUPER], approval_limit: null}
  manager:    {users: [U0MANAGER1, U0MANAGER2], groups: [S0MANAGERS], approval_limit: "200.00"}
two_person_rule_above: "100.00"
"""


def write(path: Path, text: str, *, later_by: float = 0.0) -> Path:
    """Write a new version; `later_by` moves its mtime on so the change is seen at once."""
    before = path.stat().st_mtime_ns if path.exists() else None
    path.write_text(text, encoding="utf-8")
    if before is not None and later_by:
        stamp = before + int(later_by * 1e9)
        os.utime(path, ns=(stamp, stamp))
    return path


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return write(tmp_path / "roles.yml", ROLES_YAML)


def check(roles: CurrentRoles | Roles, approver: str, amount_minor: int = 5000) -> Role:
    return roles.current().check_approval(
        approver=approver,
        approver_groups=(),
        proposer="U0AGENT",
        amount_minor=amount_minor,
        currency="USD",
        supervisor_required=False,
    )


# -- CurrentRoles --------------------------------------------------------------------


def test_without_a_file_nobody_may_approve(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        roles = CurrentRoles(None)
    assert "no ROLES_FILE: nobody has a role" in caplog.text
    assert roles.current().role_of("U0SUPER") is None
    with pytest.raises(NotAllowed, match="You cannot approve refunds"):
        check(roles, "U0SUPER")


def test_a_file_that_cannot_be_used_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(RolesError, match="no such file"):
        CurrentRoles(tmp_path / "nope.yml")
    broken = write(tmp_path / "broken.yml", "roles: [unclosed\n")
    with pytest.raises(RolesError, match="YAML syntax error"):
        CurrentRoles(broken)


def test_load_roles(tmp_path: Path, path: Path) -> None:
    assert isinstance(load_roles(path), CurrentRoles)
    assert load_roles(None).current().role_of("U0SUPER") is None
    with pytest.raises(StartupError, match=r"^ROLES_FILE .*nope\.yml: file: no such file$"):
        load_roles(tmp_path / "nope.yml")


def test_unchanged_file_is_not_read_again(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    roles = CurrentRoles(path)
    first = roles.current()

    def fail(_path: Path) -> Roles:
        raise AssertionError("read again")

    monkeypatch.setattr(Roles, "load", fail)
    assert roles.current() is first
    assert roles.current() is first


def test_someone_removed_from_the_file_is_refused_at_the_next_check(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    roles = CurrentRoles(path)
    assert check(roles, "U0MANAGER2") is Role.MANAGER
    write(path, ROLES_YAML.replace(", U0MANAGER2", ""), later_by=2)
    with (
        caplog.at_level(logging.INFO, logger="disputes.roles"),
        pytest.raises(NotAllowed, match="You cannot approve refunds"),
    ):
        check(roles, "U0MANAGER2")
    assert check(roles, "U0MANAGER1") is Role.MANAGER
    reloads = [r for r in caplog.records if "reloaded" in r.getMessage()]
    assert [r.levelno for r in reloads] == [logging.INFO]
    assert str(path) in reloads[0].getMessage()


def test_a_new_limit_applies_at_the_next_check(path: Path) -> None:
    roles = CurrentRoles(path)
    assert roles.current().limit_minor(Role.MANAGER, "USD") == 20000
    write(path, ROLES_YAML.replace('"200.00"', '{USD: "50.00", EUR: "45.00"}'), later_by=2)
    assert roles.current().limit_minor(Role.MANAGER, "USD") == 5000
    assert roles.current().limit_minor(Role.MANAGER, "EUR") == 4500
    with pytest.raises(NotAllowed, match=r"above your approval limit of 50\.00 USD"):
        check(roles, "U0MANAGER1", 5001)


def test_an_edit_of_the_same_mtime_but_another_size_is_seen(path: Path) -> None:
    roles = CurrentRoles(path)
    stamp = path.stat().st_mtime_ns
    write(path, ROLES_YAML.replace('"100.00"', '"10.00"'))
    os.utime(path, ns=(stamp, stamp))
    assert roles.current().two_person_minor("USD") == 1000


def test_a_broken_edit_keeps_the_roles_in_force(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    roles = CurrentRoles(path)
    in_force = roles.current()
    write(path, ROLES_YAML.replace('"200.00"', '"lots"'), later_by=2)
    with caplog.at_level(logging.INFO, logger="disputes.roles"):
        assert roles.current() is in_force
        assert check(roles, "U0MANAGER2") is Role.MANAGER
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # once per edit, not at every check
    message = errors[0].getMessage()
    assert message.startswith(f"ROLES_FILE {path}: roles.manager.approval_limit: not a money")
    assert "\n" not in message
    assert not [r for r in caplog.records if "reloaded" in r.getMessage()]
    # Fixed: the fixed file is in force.
    write(path, ROLES_YAML.replace(", U0MANAGER2", ""), later_by=4)
    with pytest.raises(NotAllowed):
        check(roles, "U0MANAGER2")


def test_a_file_that_disappears_keeps_the_roles_in_force(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    roles = CurrentRoles(path)
    path.unlink()
    with caplog.at_level(logging.ERROR, logger="disputes.roles"):
        assert check(roles, "U0MANAGER2") is Role.MANAGER
        assert check(roles, "U0MANAGER2") is Role.MANAGER
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"ROLES_FILE {path}: file: no such file"
    ]
    write(path, ROLES_YAML.replace(", U0MANAGER2", ""))
    with pytest.raises(NotAllowed):
        check(roles, "U0MANAGER2")


def test_the_roles_in_force_answer_every_question(path: Path) -> None:
    roles = CurrentRoles(path).current()
    assert roles.role_of("U0NEW", ["S0MANAGERS"]) is Role.MANAGER
    assert roles.needs_groups()
    entry = roles.entry(Role.MANAGER)
    assert entry is not None and entry.groups == ("S0MANAGERS",)
    assert roles.entry(Role.AGENT) is None
    assert roles.current().limit_minor(Role.SUPERVISOR, "KWD") is None
    assert roles.current().two_person_minor("USD") == 10000
    with pytest.raises(NotAllowed, match="ORD-1001 in the last 90 days"):
        roles.check_approval(
            approver="U0MANAGER1",
            approver_groups=(),
            proposer="U0AGENT",
            amount_minor=10000,
            currency="USD",
            supervisor_required=False,
            approved_before_minor=20000,
            order_id="ORD-1001",
        )
    with pytest.raises(NotAllowed, match=r"two-person rule above 100\.00 USD"):
        roles.check_approval(
            approver="U0MANAGER1",
            approver_groups=(),
            proposer="U0MANAGER1",
            amount_minor=5000,
            currency="USD",
            supervisor_required=False,
            self_approved_before_minor=6000,
        )


# -- GroupDirectory ------------------------------------------------------------------


class FakeSlack:
    def __init__(self, members: dict[str, list[str]]) -> None:
        self.members = members
        self.asked: list[str] = []

    async def usergroups_users_list(self, *, usergroup: str) -> dict[str, Any]:
        self.asked.append(usergroup)
        return {"ok": True, "users": list(self.members.get(usergroup, []))}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_groups_newly_named_in_the_file_are_looked_up(path: Path) -> None:
    slack = FakeSlack({"S0MANAGERS": ["U0NEW"], "S0SUPERS": ["U0NEW", "U0OTHER"]})
    directory = GroupDirectory(CurrentRoles(path), clock=Clock())
    assert directory.groups == ["S0MANAGERS"]
    assert await directory.groups_of(slack, "U0NEW") == {"S0MANAGERS"}  # type: ignore[arg-type]
    assert slack.asked == ["S0MANAGERS"]

    edited = ROLES_YAML.replace(
        "{users: [U0SUPER], approval_limit", "{users: [U0SUPER], groups: [S0SUPERS], approval_limit"
    )
    write(path, edited, later_by=2)
    assert directory.groups == ["S0MANAGERS", "S0SUPERS"]
    assert await directory.groups_of(slack, "U0NEW") == {"S0MANAGERS", "S0SUPERS"}  # type: ignore[arg-type]
    assert slack.asked == ["S0MANAGERS", "S0SUPERS"]  # S0MANAGERS still cached

    write(path, ROLES_YAML.replace("groups: [S0MANAGERS], ", ""), later_by=4)
    assert directory.groups == []
    assert await directory.groups_of(slack, "U0NEW") == set()  # type: ignore[arg-type]


async def test_group_members_are_cached_for_at_most_a_minute(path: Path) -> None:
    slack = FakeSlack({"S0MANAGERS": ["U0MANAGER3"]})
    clock = Clock()
    directory = GroupDirectory(CurrentRoles(path), clock=clock)
    assert await directory.groups_of(slack, "U0MANAGER3") == {"S0MANAGERS"}  # type: ignore[arg-type]
    slack.members["S0MANAGERS"] = []  # removed from the group in Slack
    clock.now += GROUPS_TTL - 0.5
    assert await directory.groups_of(slack, "U0MANAGER3") == {"S0MANAGERS"}  # type: ignore[arg-type]
    assert slack.asked == ["S0MANAGERS"]
    clock.now += 0.5
    assert await directory.groups_of(slack, "U0MANAGER3") == set()  # type: ignore[arg-type]
    assert slack.asked == ["S0MANAGERS", "S0MANAGERS"]
    assert GROUPS_TTL <= 60
