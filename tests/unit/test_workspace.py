"""State rules of the sandbox workspace, driven by an injected clock."""

from __future__ import annotations

import pytest

from sandbox.slack.workspace import SlackError, Workspace
from tests.support.emulator import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000.0)


@pytest.fixture
def ws(clock: FakeClock) -> Workspace:
    return Workspace.default(clock=clock)


def error_of(exc_info: pytest.ExceptionInfo[SlackError]) -> str:
    return exc_info.value.error


def test_default_seed(ws: Workspace) -> None:
    assert ws.channel("#disputes").id == "C0DISPUTES"
    assert ws.channel("dispute-supervisors").id == "C0SUPERVISORS"
    assert "U0BOT" not in ws.channel("C0DISPUTES").members
    assert "U0BOT" not in ws.channel("C0SUPERVISORS").members
    assert ws.user("U0MANAGER2").real_name == "Mia Manager"
    assert ws.user("U0SUPER").tz == "America/New_York"
    assert ws.bot_token == "xoxb-sandbox"


def test_bot_token_is_configurable(clock: FakeClock) -> None:
    assert Workspace.default(clock=clock, bot_token="xoxb-other").bot_token == "xoxb-other"


def test_ts_strictly_increases_when_the_clock_stands_still(ws: Workspace) -> None:
    stamps = [ws.next_ts() for _ in range(5)]
    assert stamps == sorted(stamps, key=float)
    assert len(set(stamps)) == 5
    assert stamps[0] == "1700000000.000000"
    assert stamps[1] == "1700000000.000001"


def test_trigger_works_once(ws: Workspace) -> None:
    tid = ws.mint_trigger("U0MANAGER1")
    assert ws.use_trigger(tid).user == "U0MANAGER1"
    with pytest.raises(SlackError) as exc:
        ws.use_trigger(tid)
    assert error_of(exc) == "exchanged_trigger_id"


def test_trigger_expires_after_3_seconds(ws: Workspace, clock: FakeClock) -> None:
    fresh, stale = ws.mint_trigger("U0AGENT"), ws.mint_trigger("U0AGENT")
    clock.now += 3.0
    assert ws.use_trigger(fresh).id == fresh
    clock.now += 0.01
    with pytest.raises(SlackError) as exc:
        ws.use_trigger(stale)
    assert error_of(exc) == "expired_trigger_id"


def test_unknown_trigger(ws: Workspace) -> None:
    with pytest.raises(SlackError) as exc:
        ws.use_trigger("123.456.nope")
    assert error_of(exc) == "invalid_trigger_id"


def test_response_url_works_five_times(ws: Workspace) -> None:
    token = ws.mint_response_url("C0DISPUTES", "U0MANAGER1")
    uses = [ws.use_response_url(token).uses for _ in range(5)]
    assert uses == [1, 2, 3, 4, 5]
    with pytest.raises(SlackError) as exc:
        ws.use_response_url(token)
    assert error_of(exc) == "used_url"


def test_response_url_expires_after_30_minutes(ws: Workspace, clock: FakeClock) -> None:
    token = ws.mint_response_url("C0DISPUTES", "U0MANAGER1")
    clock.now += 30 * 60
    assert ws.use_response_url(token).uses == 1
    clock.now += 1
    with pytest.raises(SlackError) as exc:
        ws.use_response_url(token)
    assert error_of(exc) == "expired_url"


def test_thread_replies_are_nested_and_counted(ws: Workspace) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    parent = ws.post_message("C0DISPUTES", text="D-1")
    r1 = ws.post_message("C0DISPUTES", text="one", thread_ts=parent.ts)
    ws.post_message("C0DISPUTES", text="two", thread_ts=parent.ts, user="U0AGENT")
    ws.post_message("C0DISPUTES", text="loud", thread_ts=parent.ts, reply_broadcast=True)
    assert [m.text for m in ws.thread("C0DISPUTES", parent.ts)] == ["D-1", "one", "two", "loud"]
    assert [m.text for m in ws.history("C0DISPUTES")] == ["D-1", "loud"]
    shown = parent.to_slack(ws)
    assert shown["reply_count"] == 3
    assert shown["reply_users"] == ["U0BOT", "U0AGENT"]
    with pytest.raises(SlackError) as exc:
        ws.post_message("C0DISPUTES", text="nested", thread_ts=r1.ts)
    assert error_of(exc) == "thread_not_found"


def test_only_the_author_may_update(ws: Workspace) -> None:
    human = ws.post_message("C0DISPUTES", text="mine", user="U0AGENT")
    with pytest.raises(SlackError) as exc:
        ws.update_message("C0DISPUTES", human.ts, text="edited by bot")
    assert error_of(exc) == "cant_update_message"
    bot = ws.post_message("C0DISPUTES", text="v1")
    assert ws.update_message("C0DISPUTES", bot.ts, text="v2").edited is not None
    assert ws.message("C0DISPUTES", bot.ts).text == "v2"


def test_ephemerals_are_per_user(ws: Workspace) -> None:
    ws.post_ephemeral("C0DISPUTES", "U0MANAGER1", text="for max")
    ws.post_ephemeral("C0DISPUTES", "U0AGENT", text="for ana")
    assert [e.text for e in ws.ephemerals_for("U0MANAGER1")] == ["for max"]


def test_view_stack_push_and_limit(ws: Workspace) -> None:
    root = ws.open_view(ws.mint_trigger("U0MANAGER1"), {"type": "modal", "blocks": []})
    second = ws.push_view(ws.mint_trigger("U0MANAGER1", view_id=root.id), {"type": "modal"})
    assert second.previous_view_id == root.id
    assert second.root_view_id == root.id
    ws.push_view(ws.mint_trigger("U0MANAGER1", view_id=second.id), {"type": "modal"})
    with pytest.raises(SlackError) as exc:
        ws.push_view(ws.mint_trigger("U0MANAGER1"), {"type": "modal"})
    assert error_of(exc) == "push_limit_reached"
    ws.close_view(second.id, clear=True)
    assert ws.top_view("U0MANAGER1") is None


def test_update_view_checks_hash(ws: Workspace) -> None:
    view = ws.open_view(ws.mint_trigger("U0AGENT"), {"type": "modal", "external_id": "ext-1"})
    old_hash = view.hash
    ws.update_view({"type": "modal", "external_id": "ext-1"}, external_id="ext-1", hash=old_hash)
    assert view.hash != old_hash
    with pytest.raises(SlackError) as exc:
        ws.update_view({"type": "modal"}, view_id=view.id, hash=old_hash)
    assert error_of(exc) == "hash_conflict"


def test_ratelimit_is_spent(ws: Workspace) -> None:
    ws.arm_ratelimit("chat.postMessage", retry_after=2, times=2)
    assert [ws.take_ratelimit("chat.postMessage") for _ in range(3)] == [2, 2, None]
    assert ws.take_ratelimit("chat.update") is None
