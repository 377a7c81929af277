"""A `message` event read as a reply in a thread, and which dispute's thread it is in: the one
recorded, else the one the parent's mark names when the app posted the parent."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from handlers.deps import Deps
from handlers.events import thread_dispute
from handlers.thread_marks import mark
from handlers.thread_replies import Edit, Reply, read_message_event

BOT, THREAD = "U0BOT", "1700000000.000100"


def reply_event(**extra: Any) -> dict[str, Any]:
    event = {"type": "message", "channel": "C0D", "user": "U0AGENT", "text": "hi"}
    return event | {"ts": "1700000001.000200", "thread_ts": THREAD, **extra}


def test_a_reply_says_who_posted_its_threads_parent() -> None:
    seen = read_message_event(reply_event(parent_user_id=BOT), BOT)
    assert isinstance(seen, Reply) and seen.parent_user == BOT
    bare = read_message_event(reply_event(), BOT)
    assert isinstance(bare, Reply) and bare.parent_user == ""
    edit = read_message_event(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": "C0D",
            "message": reply_event(text="hello"),
            "previous_message": reply_event(parent_user_id="U0AGENT"),
        },
        BOT,
    )
    assert isinstance(edit, Edit) and edit.original is not None
    assert edit.original.parent_user == "U0AGENT"


class Slack:
    """conversations.history holding one message: the parent at THREAD."""

    def __init__(self, message: dict[str, Any]) -> None:
        self.message = message
        self.asked = 0

    async def conversations_history(self, **_: Any) -> dict[str, Any]:
        self.asked += 1
        return {"messages": [self.message]}


def deps(recorded: int | None, slack: Slack) -> Deps:
    async def by_thread(channel: str, thread_ts: str) -> int | None:
        return recorded

    disputes = SimpleNamespace(by_thread=by_thread)
    return cast(Deps, SimpleNamespace(disputes=disputes, threads=SimpleNamespace(client=slack)))


def reply(parent_user: str) -> Reply:
    return Reply("C0D", THREAD, "1700000001.000200", "U0AGENT", "hi", [], parent_user)


async def test_a_recorded_thread_is_used_without_asking_slack() -> None:
    slack = Slack({"ts": THREAD, "user": BOT, "metadata": mark(7, "parent")})
    assert await thread_dispute(deps(3, slack), reply(BOT), BOT) == 3
    assert slack.asked == 0


async def test_a_thread_not_recorded_yet_is_known_by_its_parents_mark() -> None:
    slack = Slack({"ts": THREAD, "user": BOT, "metadata": mark(7, "parent")})
    assert await thread_dispute(deps(None, slack), reply(BOT), BOT) == 7
    assert await thread_dispute(deps(None, slack), reply(""), BOT) == 7  # Slack did not say
    assert slack.asked == 2


async def test_a_thread_someone_else_started_is_nobodys_without_asking_slack() -> None:
    slack = Slack({"ts": THREAD, "user": BOT, "metadata": mark(7, "parent")})
    assert await thread_dispute(deps(None, slack), reply("U0AGENT"), BOT) is None
    assert await thread_dispute(deps(None, slack), reply(BOT), "") is None
    assert slack.asked == 0
