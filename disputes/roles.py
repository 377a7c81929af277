"""Who may approve money: the roles file (ARCHITECTURE §3) and the approval checks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr, ValidationError

from disputes.errors import NotAllowed
from disputes.money import MoneyError, format_minor, normalise_currency, to_minor
from policies.loader import format_loc
from policies.schema import MoneyStr

ROLES_HELP = "roles are set in ROLES_FILE"
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")


class Role(StrEnum):
    """Listed lowest rank first; `rank` compares them."""

    AGENT = "agent"
    MANAGER = "manager"
    SUPERVISOR = "supervisor"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class RolesError(ValueError):
    """A roles file that cannot be used, as one line: `ROLES_FILE <path>: <where>: <what>`."""

    def __init__(self, path: Path | str, where: str, what: str) -> None:
        super().__init__(f"ROLES_FILE {path}: {where}: {what}")
        self.path, self.where, self.what = str(path), where, what


def _user_id(value: str) -> str:
    if not _USER_ID.match(value):
        raise ValueError(f"{value!r} is not a Slack user id (U… or W…, capitals and digits)")
    return value


def _group_id(value: str) -> str:
    if not _GROUP_ID.match(value):
        raise ValueError(f"{value!r} is not a Slack user group id (S…, capitals and digits)")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleEntry(_Model):
    users: tuple[Annotated[StrictStr, AfterValidator(_user_id)], ...] = ()
    groups: tuple[Annotated[StrictStr, AfterValidator(_group_id)], ...] = ()
    # Required so that "no limit" is always written down as null, never assumed.
    approval_limit: MoneyStr | None


class RoleTable(_Model):
    agent: RoleEntry | None = None
    manager: RoleEntry | None = None
    supervisor: RoleEntry | None = None


class RolesFile(_Model):
    roles: RoleTable
    two_person_rule_above: MoneyStr | None


class Roles:
    """The people (directly or through Slack user groups) who hold each role, and their limits."""

    def __init__(self, spec: RolesFile, source: Path | str) -> None:
        self.spec = spec
        self.source = str(source)

    @classmethod
    def load(cls, path: Path) -> Roles:
        data = _read_yaml(path)
        try:
            return cls(RolesFile.model_validate(data), path)
        except ValidationError as exc:
            raise _validation_error(path, exc) from None

    @classmethod
    def nobody(cls) -> Roles:
        """No roles file: nobody may approve money."""
        empty = RolesFile(roles=RoleTable(), two_person_rule_above=None)
        return cls(empty, "(not set)")

    def entry(self, role: Role) -> RoleEntry | None:
        return getattr(self.spec.roles, role.value)

    def role_of(self, user_id: str, group_ids: Iterable[str] = ()) -> Role | None:
        """The highest role the user holds, directly or through one of their groups."""
        groups = set(group_ids)
        for role in sorted(Role, key=lambda r: r.rank, reverse=True):
            entry = self.entry(role)
            if entry and (user_id in entry.users or groups.intersection(entry.groups)):
                return role
        return None

    def needs_groups(self) -> bool:
        """Whether any role names groups, so the caller must look up the user's groups."""
        return any((entry := self.entry(role)) and entry.groups for role in Role)

    def limit_minor(self, role: Role, currency: str) -> int | None:
        """The role's approval limit in minor units; None means no limit."""
        entry = self.entry(role)
        if entry is None:
            return 0
        if entry.approval_limit is None:
            return None
        return self._minor(entry.approval_limit, currency, f"roles.{role.value}.approval_limit")

    def two_person_minor(self, currency: str) -> int | None:
        """Above this amount the approver must differ from the proposer; None: no such rule."""
        above = self.spec.two_person_rule_above
        return None if above is None else self._minor(above, currency, "two_person_rule_above")

    def check_approval(
        self,
        *,
        approver: str,
        approver_groups: Iterable[str],
        proposer: str,
        amount_minor: int,
        currency: str,
        supervisor_required: bool,
    ) -> Role:
        """The approver's role when they may approve this amount; otherwise raises NotAllowed."""
        if amount_minor < 0:
            raise ValueError("amount_minor must be zero or more")
        currency = normalise_currency(currency)
        role = self.role_of(approver, approver_groups)
        limit = self._limit_or_refuse(role, currency) if role else 0
        if role is None or limit == 0:
            raise NotAllowed(
                f"You cannot approve refunds: ask a manager or supervisor ({ROLES_HELP})."
            )
        if supervisor_required and role is not Role.SUPERVISOR:
            raise NotAllowed(
                "Only a supervisor can approve this: it is outside policy or over the "
                "manager's limit."
            )
        amount = f"{format_minor(amount_minor, currency)} {currency}"
        if limit is not None and amount_minor > limit:
            ask = "ask a supervisor" if role is not Role.SUPERVISOR else "raise it in ROLES_FILE"
            raise NotAllowed(
                f"{amount} is above your approval limit of {format_minor(limit, currency)} "
                f"{currency} as {role.value}: {ask}."
            )
        above = self._refusing(self.two_person_minor, currency)
        if above is not None and amount_minor > above and approver == proposer:
            raise NotAllowed(
                "You proposed this; someone else must approve it "
                f"(two-person rule above {format_minor(above, currency)} {currency})."
            )
        return role

    def _limit_or_refuse(self, role: Role, currency: str) -> int | None:
        return self._refusing(lambda cur: self.limit_minor(role, cur), currency)

    @staticmethod
    def _refusing(amount_in: Callable[[str], int | None], currency: str) -> int | None:
        # A limit the currency cannot express (200.50 JPY) is a mistake in the file: refuse
        # rather than round it either way.
        try:
            return amount_in(currency)
        except RolesError as exc:
            raise NotAllowed(
                f"Approval is blocked: {exc.where} is {exc.what}. Fix ROLES_FILE or ask a "
                "supervisor to approve."
            ) from exc

    def _minor(self, amount: str, currency: str, where: str) -> int:
        try:
            return to_minor(amount, currency)
        except MoneyError:
            code = normalise_currency(currency)
            raise RolesError(
                self.source, where, f"{amount}, which is not a whole amount in {code}"
            ) from None


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RolesError(path, "file", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RolesError(path, "file", f"cannot read it ({exc})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        raise RolesError(
            path, where, f"YAML syntax error: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(data, dict):
        raise RolesError(path, "file", "expected a mapping with roles: and two_person_rule_above:")
    return data


class _UniqueKeyLoader(yaml.SafeLoader):
    """A second `manager:` would silently replace the first; refuse it instead."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "required",
}


def _validation_error(path: Path, exc: ValidationError) -> RolesError:
    errors = exc.errors()
    first = errors[0]
    loc = tuple(first["loc"])
    where = format_loc(loc) or "file"
    kind = first["type"]
    if kind == "extra_forbidden" and len(loc) == 2 and loc[0] == "roles":
        what = f"unknown role {loc[1]!r}: expected agent, manager or supervisor"
    elif kind == "missing" and loc[-1] == "approval_limit":
        what = 'required: an amount such as "200.00", or null for no limit'
    elif kind == "missing" and loc[-1] == "two_person_rule_above":
        what = 'required: an amount such as "100.00", or null for no two-person rule'
    else:
        what = _MESSAGES.get(kind) or str(first["msg"]).removeprefix("Value error, ")
    if len(errors) > 1:
        what += f" (and {len(errors) - 1} more)"
    return RolesError(path, where, what)
