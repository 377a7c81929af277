"""`/dispute queue` as people see it: answers within a message's 50 blocks and 3000 characters
a field however long the queue and whatever the disputes' names say; clocks read as "breaches in
2h 10m"; links to the threads built without asking Slack once per row."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, cast

import pytest

from blocks.queue import MESSAGE_ROWS, queue_message, sla_state, span, team_message
from disputes.queues import QueuePage, Team
from handlers.threads import ThreadPublisher
from sandbox.slack.blockkit import validate_message
from tests.support.disputes import NOW, make_dispute
from tests.support.queues import LINK, big_team, item, long_dispute, long_queue, page_of, texts


def shown(view: Any) -> str:
    return json.dumps(view, ensure_ascii=False)


@pytest.mark.parametrize("kind", ["mine", "unassigned", "stuck"])
def test_queue_messages_of_500_disputes_fit_a_message(kind: str) -> None:
    items = long_queue(owner_id=None) if kind == "unassigned" else long_queue()
    page = QueuePage(tuple(items[:MESSAGE_ROWS]), len(items), 0, MESSAGE_ROWS)
    message = queue_message(kind, page, {i.dispute.number: LINK for i in items}, NOW, may_take=True)
    assert validate_message(message.text, message.blocks) == []
    assert len(message.blocks) <= 50
    assert all(len(text) <= 3000 for text in texts(message.blocks))
    assert "475 more not shown here" in shown(message.blocks)
    assert LINK in shown(message.blocks)
    takes = [b for b in message.blocks if b.get("accessory", {}).get("action_id") == "owner.take"]
    assert len(takes) == (MESSAGE_ROWS if kind == "unassigned" else 0)


def test_team_message_of_500_people_fits_a_message() -> None:
    message = team_message(big_team())
    assert validate_message(message.text, message.blocks) == []
    listed = shown(message.blocks)
    assert "In review: 1500 breached, 1000 warning" in listed
    assert "and 475 more" in listed
    assert "<@U00000000>: 40 open · 20 high priority · 10 breaching" in listed


def test_an_empty_queue_says_so() -> None:
    message = queue_message("mine", page_of([]), {}, NOW, may_take=False)
    assert "Nothing is assigned to you." in shown(message.blocks)
    quiet = team_message(Team((), ()))
    assert "No open dispute is near or past its service level" in shown(quiet.blocks)


def test_clocks_read_as_people_say_them() -> None:
    assert span(timedelta(hours=2, minutes=10, seconds=59)) == "2h 10m"
    assert span(timedelta(minutes=35)) == "35m"
    assert span(timedelta(days=3, hours=4, minutes=5)) == "3d 4h"
    assert span(timedelta(hours=5)) == "5h"
    d = make_dispute()
    soon = sla_state(item(d, minutes=130), NOW)
    assert soon.startswith("First response: breaches in 2h 10m (<!date^")
    warned = sla_state(item(d, minutes=130, level="warning"), NOW)
    assert warned.startswith(":warning: First response: breaches in 2h 10m")
    assert sla_state(item(d, minutes=-35, level="breached"), NOW) == (
        ":rotating_light: First response: breached 35m ago"
    )
    # The stored level lags the clock; the time shown does not.
    assert "breached 1h ago" in sla_state(item(d, minutes=-60, level="ok"), NOW)
    assert sla_state(item(d, minutes=None), NOW) == "no service-level clock"


class Permalinks:
    """Stands in for Slack's Web API: answers chat.getPermalink as Slack writes links."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def chat_getPermalink(self, *, channel: str, message_ts: str) -> dict[str, str]:
        self.asked.append(message_ts)
        ts = message_ts.replace(".", "")
        return {"permalink": f"https://acme.slack.com/archives/{channel}/p{ts}"}


async def test_thread_links_ask_slack_once_whatever_the_number_of_rows() -> None:
    client = Permalinks()
    threads = ThreadPublisher(cast(Any, client), "C0DISPUTES", cast(Any, None), cast(Any, None))
    listed = [long_dispute(n) for n in range(1, 51)] + [make_dispute(number=99, thread_ts=None)]
    links = await threads.links(listed)
    assert len(client.asked) == 1
    assert len(links) == 50 and 99 not in links
    assert links[7] == "https://acme.slack.com/archives/C0DISPUTES/p1007000100"
    again = await threads.links([long_dispute(60)])
    assert again == {60: "https://acme.slack.com/archives/C0DISPUTES/p1060000100"}
    assert len(client.asked) == 1
