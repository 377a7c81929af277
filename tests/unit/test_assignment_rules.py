"""Who gets a new dispute: the least-loaded eligible person in office and under their cap, ties
to fewer open disputes then the lower id; and the roles file's `assignment:` section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from disputes.assignment import Candidate, pick_owner
from disputes.roles import Roles, RolesError, RolesFile
from domain.roles import Role


def roles_of(**extra: Any) -> Roles:
    spec: dict[str, Any] = {
        "roles": {
            "supervisor": {"users": ["U0SUP"], "approval_limit": None},
            "manager": {"users": ["U0MAN"], "groups": ["S0MANS"], "approval_limit": "200.00"},
            "agent": {"users": ["U0AG1", "U0AG2"], "approval_limit": "0"},
        },
        "two_person_rule_above": None,
    }
    spec.update(extra)
    return Roles(RolesFile.model_validate(spec), "(test)")


def test_the_least_loaded_person_gets_it() -> None:
    people = [Candidate("U0A", 3, 1, None), Candidate("U0B", 2, 2, None)]
    assert pick_owner(people) == "U0B"


def test_ties_go_to_fewer_open_disputes_then_the_lower_id() -> None:
    assert pick_owner([Candidate("U0A", 2, 2, None), Candidate("U0B", 2, 1, None)]) == "U0B"
    assert pick_owner([Candidate("U0B", 2, 1, None), Candidate("U0A", 2, 1, None)]) == "U0A"


def test_nobody_at_their_cap_or_out_of_office_gets_one() -> None:
    people = [Candidate("U0A", 0, 2, 2), Candidate("U0B", 0, 0, None), Candidate("U0C", 9, 1, 5)]
    assert pick_owner(people, away={"U0B"}) == "U0C"
    assert pick_owner(people, away={"U0B", "U0C"}) is None
    assert pick_owner([]) is None


def test_a_cap_of_zero_takes_nothing() -> None:
    assert pick_owner([Candidate("U0A", 0, 0, 0)]) is None


def test_a_file_without_the_sections_keeps_the_defaults() -> None:
    roles = roles_of()
    assert not roles.auto_assigns
    assert roles.assignable() == ["U0AG1", "U0AG2", "U0MAN"]  # the supervisor takes none
    assert roles.cap_of("U0AG1") is None
    assert [roles.weight_of(p) for p in ("urgent", "high", "normal", "low", "odd")] == [
        4,
        2,
        1,
        1,
        1,
    ]
    assert roles.away() == frozenset()


def test_the_assignment_section_sets_who_caps_weights_and_turns_intake_on() -> None:
    roles = roles_of(
        assignment={
            "eligible": ["manager"],
            "caps": {"manager": 15, "agent": 10},
            "caps_by_user": {"U0AG1": 5},
            "priority_weights": {"urgent": 9},
        },
        out_of_office=["U0MAN"],
    )
    assert roles.auto_assigns
    assert roles.assignable() == ["U0MAN"]  # group members cannot be listed
    assert (roles.cap_of("U0MAN"), roles.cap_of("U0AG2"), roles.cap_of("U0AG1")) == (15, 10, 5)
    assert roles.cap_of("U0NOBODY") is None
    assert (roles.weight_of("urgent"), roles.weight_of("high")) == (9, 2)
    assert roles.away() == {"U0MAN"}


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ({"assignment": {"eligible": ["boss"]}}, "assignment.eligible"),
        ({"assignment": {"caps": {"agent": -1}}}, "assignment.caps"),
        ({"assignment": {"caps_by_user": {"bob": 1}}}, "assignment.caps_by_user"),
        ({"assignment": {"cap": 1}}, "assignment"),
        ({"out_of_office": ["bob"]}, "out_of_office"),
    ],
)
def test_a_bad_assignment_section_is_refused_naming_where(
    extra: dict[str, Any], where: str, tmp_path: Path
) -> None:
    path = tmp_path / "roles.yml"
    spec = {"roles": {"agent": {"users": ["U0AG1"], "approval_limit": "0"}}}
    path.write_text(yaml.safe_dump({**spec, "two_person_rule_above": None, **extra}))
    with pytest.raises(RolesError) as refused:
        Roles.load(path)
    assert refused.value.where.startswith(where)


# --- the property: over random files and histories, intake never overfills anyone -------------

USERS = [f"U0P{n}" for n in range(6)]
PRIORITIES = ["urgent", "high", "normal", "low"]


@st.composite
def files(draw: st.DrawFn) -> Roles:
    placed = {u: draw(st.sampled_from([None, *Role])) for u in USERS}
    table = {
        role.value: {
            "users": [u for u, r in placed.items() if r is role],
            "approval_limit": None,
        }
        for role in Role
    }
    caps = draw(st.dictionaries(st.sampled_from(list(Role)), st.integers(0, 4)))
    by_user = draw(st.dictionaries(st.sampled_from(USERS), st.integers(0, 4)))
    return Roles(
        RolesFile.model_validate(
            {
                "roles": table,
                "two_person_rule_above": None,
                "assignment": {
                    "eligible": draw(st.lists(st.sampled_from(list(Role)), unique=True)),
                    "caps": {r.value: c for r, c in caps.items()},
                    "caps_by_user": by_user,
                    "priority_weights": {p: draw(st.integers(0, 5)) for p in PRIORITIES},
                },
                "out_of_office": draw(st.lists(st.sampled_from(USERS), unique=True)),
            }
        ),
        "(property)",
    )


def candidates(roles: Roles, open_disputes: dict[int, tuple[str | None, str]]) -> list[Candidate]:
    """What `disputes.assignment.candidates` reads from the database, from a dict."""
    found = []
    for person in roles.assignable():
        mine = [prio for owner, prio in open_disputes.values() if owner == person]
        load = sum(roles.weight_of(prio) for prio in mine)
        found.append(Candidate(person, load, len(mine), roles.cap_of(person)))
    return found


steps = st.lists(
    st.one_of(
        st.tuples(st.just("intake"), st.sampled_from(PRIORITIES)),
        st.tuples(st.just("close"), st.integers(0, 50)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(files(), steps)
def test_no_one_is_overfilled_nor_given_one_while_away(roles: Roles, history: list[Any]) -> None:
    open_disputes: dict[int, tuple[str | None, str]] = {}
    away = roles.away()
    for number, (kind, arg) in enumerate(history):
        if kind == "close":
            if open_disputes:
                del open_disputes[sorted(open_disputes)[arg % len(open_disputes)]]
            continue
        owner = pick_owner(candidates(roles, open_disputes), away)
        open_disputes[number] = (owner, arg)
        held = {c.user_id: c for c in candidates(roles, open_disputes)}
        if owner is None:
            # Stays unassigned only when every eligible person in office is at their cap.
            for c in held.values():
                assert c.user_id in away or (c.cap is not None and c.open_count >= c.cap)
        else:
            assert owner not in away
            assert owner in roles.assignable()
            cap = roles.cap_of(owner)
            assert cap is None or held[owner].open_count <= cap
        for c in held.values():
            assert c.cap is None or c.open_count <= c.cap
