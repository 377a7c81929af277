"""App Home as people see it: every page of a 500-dispute queue within Slack's 100 blocks,
whatever the disputes' names say; paging forward and back, and past the end; Take only where
nobody owns the dispute; and whose tab is published again after a change."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, cast

import pytest

from blocks.home import MOST_BLOCKS, PAGE_SIZE, HomeContent, HomePages, home_view
from blocks.ids import ActionId, BadSubject, Subject
from disputes.queues import QueuePage
from handlers.deps import Deps, acting_user
from handlers.home import HomeTabs, _page
from sandbox.slack.blockkit import validate_view
from tests.support.disputes import NOW, make_dispute
from tests.support.queues import LINK, QUEUE_SIZE, big_team, long_queue, page_of, texts, waiting


def content_on(page: int, **changes: Any) -> HomeContent:
    mine = long_queue()
    approvals = [waiting(i.dispute, proposer="U0MANAGER1") for i in mine]
    unowned = long_queue(owner_id=None)
    pages = HomePages(mine=page, approvals=page, unassigned=page)
    fields: dict[str, Any] = {
        "mine": page_of(mine, page),
        "approvals": page_of(approvals, page),
        "unassigned": page_of(unowned, page),
        "now": NOW,
        "pages": pages,
        "links": {i.dispute.number: LINK for i in mine},
        "may_take": True,
        "team": big_team(),
        "failed": (QUEUE_SIZE, [i.dispute for i in mine]),
        "attention": (QUEUE_SIZE, [i.dispute for i in mine]),
        "notice": "You cannot take D-1 from <@U0AGENT>: " + "x" * 4000,
    }
    return HomeContent(**(fields | changes))


def shown(view: Any) -> str:
    return json.dumps(view, ensure_ascii=False)


def buttons(view: dict[str, Any], action: ActionId) -> list[dict[str, Any]]:
    found = []
    for block in view["blocks"]:
        elements = [block.get("accessory"), *block.get("elements", [])]
        found += [e for e in elements if isinstance(e, dict) and e.get("action_id") == action]
    return found


@pytest.mark.parametrize("page", range(QUEUE_SIZE // PAGE_SIZE + 1))
def test_every_home_page_of_a_500_dispute_queue_fits_slack(page: int) -> None:
    view = home_view(content_on(page))
    assert validate_view(view) == []
    assert len(view["blocks"]) <= MOST_BLOCKS <= 100
    assert all(len(text) <= 3000 for text in texts(view["blocks"]))


def test_the_home_pages_through_the_queue() -> None:
    first, middle = home_view(content_on(0)), home_view(content_on(3))
    last = home_view(content_on(QUEUE_SIZE // PAGE_SIZE - 1))
    turns = [HomePages.decode(b["value"]) for b in buttons(first, ActionId.HOME_PAGE)]
    # Page 1 of each list offers only Next, each to page 2 of its own list.
    assert turns == [
        HomePages(mine=1),
        HomePages(mine=0, approvals=1),
        HomePages(mine=0, approvals=0, unassigned=1),
    ]
    assert "1–20 of 500" in shown(first)
    back_and_forth = [HomePages.decode(b["value"]) for b in buttons(middle, ActionId.HOME_PAGE)]
    assert HomePages(mine=2, approvals=3, unassigned=3) in back_and_forth
    assert HomePages(mine=4, approvals=3, unassigned=3) in back_and_forth
    assert len(back_and_forth) == 6
    assert [b["text"]["text"] for b in buttons(last, ActionId.HOME_PAGE)] == ["‹ Previous"] * 3
    assert "481–500 of 500" in shown(last)


def test_home_rows_link_their_thread_and_offer_take_only_on_unowned_ones() -> None:
    view = home_view(content_on(0, team=None, notice=None))
    takes = buttons(view, ActionId.TAKE)
    opens = buttons(view, ActionId.HOME_OPEN)
    assert len(takes) == PAGE_SIZE  # the unassigned list
    assert Subject.decode(takes[0]["value"]) == Subject(dispute=1)
    assert len(opens) == 2 * PAGE_SIZE and {b["url"] for b in opens} == {LINK}
    # Every Take on the tab sits in a block the tab's own listener answers.
    take_blocks = [b for b in view["blocks"] if b.get("accessory") in takes]
    assert all(b["block_id"].startswith("home.") for b in take_blocks)
    nobody_may = home_view(content_on(0, may_take=False))
    assert not buttons(nobody_may, ActionId.TAKE)


def test_the_team_is_shown_only_when_given() -> None:
    assert "*Team*" in shown(home_view(content_on(0)))
    assert "*Team*" not in shown(home_view(content_on(0, team=None)))


def test_page_values_are_checked() -> None:
    assert HomePages.decode(HomePages(mine=2).encode()) == HomePages(mine=2)
    assert HomePages().encode() == "{}"
    for junk in (None, "", "{", '{"mine": -1}', '{"mine": 1, "x": 2}', '{"mine": 99999999}'):
        with pytest.raises(BadSubject):
            HomePages.decode(junk)


async def test_a_page_beyond_the_end_shows_the_last_page() -> None:
    items = long_queue(45)
    asked: list[int] = []

    async def read(offset: int) -> QueuePage:
        asked.append(offset)
        return QueuePage(tuple(items[offset : offset + PAGE_SIZE]), len(items), offset, PAGE_SIZE)

    found = await _page(read, 7)
    assert asked == [7 * PAGE_SIZE, 2 * PAGE_SIZE]
    assert (found.total, found.offset, len(found.items)) == (45, 2 * PAGE_SIZE, 5)
    assert (await _page(read, 1)).offset == PAGE_SIZE
    assert asked[2:] == [PAGE_SIZE]


class Submitted:
    """Stands in for the work queue: keeps what was submitted."""

    def __init__(self) -> None:
        self.jobs: list[Any] = []

    def __call__(self, job: Any, key: Any) -> None:
        self.jobs.append(job)


def test_tabs_are_refreshed_only_for_people_who_opened_theirs_once_per_burst() -> None:
    submitted = Submitted()
    tabs = HomeTabs(cast(Deps, type("D", (), {"submit": submitted})()), cast(Any, None))
    owned = make_dispute(number=4, owner_id="U0AGENT")
    tabs.changed(owned)
    assert submitted.jobs == []  # U0AGENT never opened the tab
    tabs.opened("U0AGENT")
    tabs.opened("U0SUPER")
    tabs.changed(owned)
    tabs.changed(replace(owned, number=5))
    assert len(submitted.jobs) == 1 and tabs.pending == {"U0AGENT"}
    # The person acting is refreshed too, and so is anyone whose own lists showed it.
    tabs.seen["U0MANAGER1"] = replace(tabs.seen["U0SUPER"], shown=frozenset({9}))
    token = acting_user.set("U0SUPER")
    try:
        tabs.changed(replace(owned, number=9, owner_id=None))
    finally:
        acting_user.reset(token)
    assert tabs.pending == {"U0AGENT", "U0SUPER", "U0MANAGER1"}
    assert len(submitted.jobs) == 1
