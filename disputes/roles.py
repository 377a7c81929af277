"""Who may do what: the roles file (ARCHITECTURE §3), its permission table and the approval
checks."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictInt,
    StrictStr,
    ValidationError,
)

from disputes.errors import NotAllowed
from domain.evidence import EvidenceKind
from domain.money import MoneyError, format_minor, normalise_currency, to_minor
from domain.roles import EVERYONE, NOBODY, PEOPLE_KINDS, Action, PeopleKind, Role, Who
from policies.schema import money_problem
from policies.yaml_safety import YamlLimitError, read_bounded, safe_load
from policies.yaml_source import format_loc

log = logging.getLogger(__name__)

ROLES_HELP = "roles are set in ROLES_FILE"
DEFAULT_CURRENCY = "USD"
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")


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


@dataclass(frozen=True, slots=True)
class Amounts:
    """An amount as ROLES_FILE writes it: bare ("200.00", in the file's `currency:`), with its
    currency ("200.00 USD"), or one per currency ({USD: "200.00", EUR: "180.00"})."""

    # (the currency code, None for the file's currency; the amount in major units)
    written: tuple[tuple[str | None, str], ...]
    per_currency: bool = False

    @property
    def bare(self) -> bool:
        return any(code is None for code, _ in self.written)


def _currency_code(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise ValueError(
            f"{value!r} is not a currency code (three capital letters, as in ISO 4217: USD)"
        )
    return value


def _amounts(value: Any) -> Amounts:
    if isinstance(value, dict):
        if not value:
            raise ValueError('an empty map: name at least one currency, like {USD: "200.00"}')
        written = []
        for key, amount in value.items():
            code = _currency_code(key)
            if isinstance(amount, str) and len(amount.split()) > 1:
                raise ValueError(
                    f'{code}: write the amount alone, like "200.00" (the key is its currency)'
                )
            problem = money_problem(amount)
            if problem:
                raise ValueError(f"{code}: {problem}")
            written.append((code, str(amount).strip()))
        return Amounts(tuple(written), per_currency=True)
    if isinstance(value, str) and len(parts := value.split()) > 1:
        if len(parts) != 2 or money_problem(parts[0]):
            raise ValueError(
                f'not an amount and currency: {value!r} (write them like "200.00 USD")'
            )
        return Amounts(((_currency_code(parts[1]), parts[0]),))
    problem = money_problem(value)
    if problem:
        raise ValueError(problem)
    return Amounts(((None, str(value).strip()),))


AmountsField = Annotated[Amounts, PlainValidator(_amounts)]


class RoleEntry(_Model):
    users: tuple[Annotated[StrictStr, AfterValidator(_user_id)], ...] = ()
    groups: tuple[Annotated[StrictStr, AfterValidator(_group_id)], ...] = ()
    # Required so that "no limit" is always written down as null, never assumed.
    approval_limit: AmountsField | None


class RoleTable(_Model):
    agent: RoleEntry | None = None
    manager: RoleEntry | None = None
    supervisor: RoleEntry | None = None


class Permissions(_Model):
    """Who may do what; a file without this section (or a key of it) keeps these defaults."""

    open: Who = "agent"
    review: Who = "agent"
    request_changes: Who = "manager"
    approve: Who = "agent"  # and then the approval limits decide
    retry: Who = "manager"
    see_customer: Who = "agent"
    assign: Who = "manager"
    message_customer: Who = "agent"
    snooze_alerts: Who = "manager"
    view_insights: Who = "manager"
    # One role for every kind people add, or one per kind.
    add_evidence: Who | dict[PeopleKind, Who] = "agent"

    def who(self, action: Action, kind: EvidenceKind | None = None) -> str:
        given = getattr(self, action.value)
        if isinstance(given, dict):
            return given.get(kind.value if kind else "", "agent")
        return str(given)


UserId = Annotated[StrictStr, AfterValidator(_user_id)]
Count = Annotated[StrictInt, Field(ge=0)]
DEFAULT_WEIGHTS = {"urgent": 4, "high": 2, "normal": 1, "low": 1}


class Assignment(_Model):
    """Who takes new disputes, and how many open ones each may hold; the section being in the
    file turns auto-assignment at intake on."""

    eligible: tuple[Role, ...] = (Role.AGENT, Role.MANAGER)
    caps: dict[Role, Count] = {}
    caps_by_user: dict[UserId, Count] = {}
    # A person's load is the sum of the weights of their open disputes' priorities.
    priority_weights: dict[StrictStr, Count] = DEFAULT_WEIGHTS


class RolesFile(_Model):
    currency: Annotated[StrictStr, AfterValidator(_currency_code)] | None = None
    roles: RoleTable
    two_person_rule_above: AmountsField | None
    permissions: Permissions = Permissions()
    assignment: Assignment | None = None
    out_of_office: tuple[UserId, ...] = ()


class Roles:
    """The people (directly or through Slack user groups) who hold each role, and their limits.

    Limits are per currency: a bare amount is in the file's `currency:` (USD when not set). A
    role whose `approval_limit` names no amount in a currency cannot approve in it (a
    supervisor with `approval_limit: null` can, in any currency). Where
    `two_person_rule_above` names no amount in a currency, the two-person rule applies there
    at any amount: the approver must differ from the proposer.
    """

    def __init__(self, spec: RolesFile, source: Path | str) -> None:
        self.spec = spec
        self.source = str(source)
        self.currency = spec.currency or DEFAULT_CURRENCY
        # Per role in the file: None for no limit, else the limit in minor units per currency.
        self._limits: dict[Role, dict[str, int] | None] = {}
        for role in Role:
            entry = self.entry(role)
            if entry is not None:
                limit = entry.approval_limit
                where = f"roles.{role.value}.approval_limit"
                self._limits[role] = None if limit is None else self._resolve(limit, where)
        above = spec.two_person_rule_above
        self._two_person = None if above is None else self._resolve(above, "two_person_rule_above")

    @classmethod
    def load(cls, path: Path) -> Roles:
        data = _read_yaml(path)
        try:
            spec = RolesFile.model_validate(data)
        except ValidationError as exc:
            raise _validation_error(path, exc) from None
        roles = cls(spec, path)
        if spec.currency is None and roles.uses_bare_amounts():
            log.info(
                "ROLES_FILE %s: amounts without a currency are in %s (set currency: to change)",
                path,
                DEFAULT_CURRENCY,
            )
        return roles

    @classmethod
    def nobody(cls) -> Roles:
        """No roles file: nobody may approve money."""
        empty = RolesFile(roles=RoleTable(), two_person_rule_above=None)
        return cls(empty, "(not set)")

    def current(self) -> Roles:
        """The roles in force: a set read once is always itself (see `CurrentRoles`)."""
        return self

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

    def may(
        self,
        action: Action,
        user_id: str,
        group_ids: Iterable[str] = (),
        *,
        kind: EvidenceKind | None = None,
    ) -> bool:
        """Whether the user may take `action` (for evidence, add that kind)."""
        if action is Action.ADD_EVIDENCE and kind not in PEOPLE_KINDS:
            return False  # order-system evidence comes from the order system alone
        who = self.spec.permissions.who(action, kind)
        if who in (EVERYONE, NOBODY):
            return who == EVERYONE
        role = self.role_of(user_id, group_ids)
        return role is not None and role.rank >= Role(who).rank

    def require(
        self,
        action: Action,
        user_id: str,
        group_ids: Iterable[str] = (),
        *,
        kind: EvidenceKind | None = None,
        where: str = "",
        refused: str | None = None,
    ) -> None:
        """Raise `NotAllowed`, in one sentence naming who may, unless the user may
        (`refused`: what they cannot do, when the action's own words do not fit)."""
        if self.may(action, user_id, group_ids, kind=kind):
            return
        refused = refused or action.refusal(where)
        if action is Action.ADD_EVIDENCE and kind not in PEOPLE_KINDS:
            label = kind.label if kind else "this kind"
            raise NotAllowed(
                f"{refused} as “{label}”: that comes from the order system alone. People add "
                "photos, correspondence, notes and files."
            )
        who = self.spec.permissions.who(action, kind)
        if who == NOBODY:
            raise NotAllowed(f"{refused}: nobody may ({ROLES_HELP}).")
        ranks = [r.value for r in Role if r.rank >= Role(who).rank]
        needed = " or ".join([", ".join(ranks[:-1]), ranks[-1]] if len(ranks) > 1 else ranks)
        raise NotAllowed(f"{refused}: that needs the role of {needed} ({ROLES_HELP}).")

    @property
    def auto_assigns(self) -> bool:
        """Whether new disputes get an owner at intake (the file has an `assignment:`)."""
        return self.spec.assignment is not None

    @property
    def assignment(self) -> Assignment:
        return self.spec.assignment or Assignment()

    def away(self) -> frozenset[str]:
        """The people out of office: they are given no disputes."""
        return frozenset(self.spec.out_of_office)

    def assignable(self) -> list[str]:
        """The people listed by id under a role that takes disputes, in the file's order.
        Members of the role's user groups are not included: the file does not list them."""
        eligible = set(self.assignment.eligible)
        found: list[str] = []
        for role in Role:
            entry = self.entry(role)
            for user_id in entry.users if entry else ():
                if user_id not in found and self.role_of(user_id) in eligible:
                    found.append(user_id)
        return found

    def cap_of(self, user_id: str) -> int | None:
        """How many open disputes the person may hold; None: no cap."""
        spec = self.assignment
        if user_id in spec.caps_by_user:
            return spec.caps_by_user[user_id]
        role = self.role_of(user_id)
        return spec.caps.get(role) if role is not None else None

    def weight_of(self, priority: str) -> int:
        """What one open dispute of this priority adds to its owner's load (1 when unnamed)."""
        return self.assignment.priority_weights.get(priority, DEFAULT_WEIGHTS.get(priority, 1))

    def needs_groups(self) -> bool:
        """Whether any role names groups, so the caller must look up the user's groups."""
        return any((entry := self.entry(role)) and entry.groups for role in Role)

    def uses_bare_amounts(self) -> bool:
        """Whether any amount in the file is written without its currency."""
        amounts = [entry.approval_limit for role in Role if (entry := self.entry(role))]
        amounts.append(self.spec.two_person_rule_above)
        return any(a is not None and a.bare for a in amounts)

    def limit_minor(self, role: Role, currency: str) -> int | None:
        """The role's approval limit in minor units; None means no limit. 0 when the role is
        not in the file or its limit names no amount in this currency."""
        if role not in self._limits:
            return 0
        limits = self._limits[role]
        return None if limits is None else limits.get(normalise_currency(currency), 0)

    def has_limit_in(self, role: Role, currency: str) -> bool:
        """Whether the file sets the role's limit in this currency (or no limit at all)."""
        if role not in self._limits:
            return False
        limits = self._limits[role]
        return limits is None or normalise_currency(currency) in limits

    def two_person_minor(self, currency: str) -> int | None:
        """Above this amount the approver must differ from the proposer; None: no such rule.
        In a currency `two_person_rule_above` names no amount in, the rule applies to any
        amount (0)."""
        if self._two_person is None:
            return None
        return self._two_person.get(normalise_currency(currency), 0)

    def check_approval(
        self,
        *,
        approver: str,
        approver_groups: Iterable[str],
        proposer: str,
        amount_minor: int,
        currency: str,
        supervisor_required: bool,
        approved_before_minor: int = 0,
        self_approved_before_minor: int = 0,
        order_id: str | None = None,
        supervisor_cause: str | None = None,
    ) -> Role:
        """The approver's role when they may approve this amount; otherwise raises NotAllowed.

        Limits are per order: `approved_before_minor` is what the approver has already
        approved on the same order in this currency over the last 90 days, and
        `self_approved_before_minor` what the proposer, when they are also the approver, has
        already approved of their own proposals there; the caller works both out. The
        approval limit applies to `approved_before_minor + amount_minor`, the two-person rule
        to `self_approved_before_minor + amount_minor`.
        """
        for name, value in (
            ("amount_minor", amount_minor),
            ("approved_before_minor", approved_before_minor),
            ("self_approved_before_minor", self_approved_before_minor),
        ):
            if value < 0:
                raise ValueError(f"{name} must be zero or more")
        currency = normalise_currency(currency)
        role = self.role_of(approver, approver_groups)
        covered = role is not None and self.has_limit_in(role, currency)
        limit = self.limit_minor(role, currency) if role is not None else 0
        if role is None or (covered and limit == 0):
            raise NotAllowed(
                f"You cannot approve refunds: ask a manager or supervisor ({ROLES_HELP})."
            )
        if supervisor_required and role is not Role.SUPERVISOR:
            cause = supervisor_cause or "it is outside policy or over the manager's limit"
            raise NotAllowed(f"Only a supervisor can approve this: {cause}.")
        if not covered:
            then = (
                " (add one there to approve it)"
                if role is Role.SUPERVISOR
                else ", so a supervisor must approve it"
            )
            raise NotAllowed(
                f"You cannot approve this: no approval limit in {currency} is set for "
                f"{role.value} in ROLES_FILE{then}."
            )
        on_order = f"on {order_id}" if order_id else "on this order"
        total = approved_before_minor + amount_minor
        if limit is not None and amount_minor > 0 and total > limit:
            ask = "ask a supervisor" if role is not Role.SUPERVISOR else "raise it in ROLES_FILE"
            amount = _money(amount_minor, currency)
            if approved_before_minor:
                amount += (
                    f", with the {_money(approved_before_minor, currency)} you already "
                    f"approved {on_order} in the last 90 days ({_money(total, currency)} in "
                    "all),"
                )
            raise NotAllowed(
                f"{amount} is above your approval limit of {_money(limit, currency)} "
                f"as {role.value}: {ask}."
            )
        above = self.two_person_minor(currency)
        total = self_approved_before_minor + amount_minor
        if above is not None and approver == proposer and amount_minor > 0 and total > above:
            rule = (
                f"two-person rule above {_money(above, currency)}"
                if self._two_person is not None and currency in self._two_person
                else f"two-person rule: ROLES_FILE sets no threshold in {currency}, so it "
                "applies to any amount"
            )
            if self_approved_before_minor:
                raise NotAllowed(
                    f"You proposed this, and with the "
                    f"{_money(self_approved_before_minor, currency)} you already approved of "
                    f"your own proposals {on_order} in the last 90 days it comes to "
                    f"{_money(total, currency)}: someone else must approve it ({rule})."
                )
            raise NotAllowed(f"You proposed this; someone else must approve it ({rule}).")
        return role

    def _resolve(self, amounts: Amounts, where: str) -> dict[str, int]:
        """Minor units per currency; an amount its currency cannot express is an error."""
        resolved: dict[str, int] = {}
        for code, amount in amounts.written:
            currency = code or self.currency
            try:
                resolved[currency] = to_minor(amount, currency)
            except MoneyError:
                at = f"{where}.{currency}" if amounts.per_currency else where
                raise RolesError(
                    self.source, at, f"{amount}, which is not a whole amount in {currency}"
                ) from None
        return resolved


def _money(minor: int, currency: str) -> str:
    return f"{format_minor(minor, currency)} {currency}"


class CurrentRoles:
    """The roles in force: `current()` reloads ROLES_FILE when it changes on disk, and keeps
    the roles in force when the edited file cannot be used."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        if path is None:
            log.warning("no ROLES_FILE: nobody has a role, so nobody may open, review or approve")
            self._roles = Roles.nobody()
            return
        self._stamp = self._stat(path)  # before reading: an edit made meanwhile is seen next
        self._roles = Roles.load(path)  # a file that cannot be used stops start-up here

    @staticmethod
    def _stat(path: Path) -> tuple[int, int, int] | None:
        try:
            found = path.stat()
        except OSError:
            return None
        return (found.st_mtime_ns, found.st_size, found.st_ino)

    def current(self) -> Roles:
        """The roles to use now: the file as edited if it loads, else the roles in force."""
        if self.path is None:
            return self._roles
        stamp = self._stat(self.path)
        if stamp == self._stamp:
            return self._roles
        self._stamp = stamp
        try:
            roles = Roles.load(self.path)
        except RolesError as exc:
            log.error("%s (the roles in force are kept until the file is fixed)", exc)
            return self._roles
        self._roles = roles
        log.info("ROLES_FILE %s: reloaded, the edited roles are in force", self.path)
        return roles


def _read_yaml(path: Path) -> Any:
    try:
        text = read_bounded(path).decode("utf-8")
    except FileNotFoundError:
        raise RolesError(path, "file", "no such file") from None
    except YamlLimitError as exc:
        raise RolesError(path, "file", exc.problem) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RolesError(path, "file", f"cannot read it ({exc})") from None
    try:
        data = safe_load(text, Loader=_UniqueKeyLoader)  # aliases and depth within bounds
    except YamlLimitError as exc:
        raise RolesError(path, f"line {exc.line}", exc.problem) from None
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
