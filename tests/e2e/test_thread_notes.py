"""Replies in a dispute's thread filed as internal notes, as Slack delivers them: new replies,
edits, deletions, retries, bots and top-level messages."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sandbox.slack.driver import SlackDriver
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from tests.e2e.test_events import open_thread
from tests.support.app_process import AppProcess
from tests.support.emulator import JPEG
from tests.support.threads import thread_recorded

CHANNEL = "C0DISPUTES"


def notes(app: AppProcess, thread_ts: str) -> list[tuple[str, str, str, str | None, list[Any]]]:
    with sqlite3.connect(app.database) as db:
        rows = db.execute(
            "SELECT n.message_ts, n.author, n.text, n.deleted_at, n.history FROM thread_notes n "
            "JOIN disputes d ON d.id = n.dispute_id WHERE d.thread_ts = ? ORDER BY n.id",
            (thread_ts,),
        ).fetchall()
    return [
        (ts, author, text, deleted, json.loads(history))
        for ts, author, text, deleted, history in rows
    ]


def reply(ts: str, thread_ts: str | None, text: str, user: str = "U0AGENT", **extra: Any) -> dict:
    event = {"type": "message", "channel": CHANNEL, "channel_type": "channel", "ts": ts}
    event |= {"user": user, "text": text, **extra}
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


async def shown(slack: SlackDriver, workspace: Workspace, ref: str) -> str:
    """The blocks of `/dispute show` as the supervisor gets them, as JSON."""
    seen = len(workspace.ephemerals_for("U0SUPER"))
    await slack.command(f"show {ref}", user="U0SUPER")
    answer = await eventually(
        lambda: next((e for e in workspace.ephemerals_for("U0SUPER")[seen:] if ref in e.text), None)
    )
    return json.dumps(answer.blocks, ensure_ascii=False)


async def test_a_reply_edit_and_deletion_are_filed_as_notes(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    parent = await open_thread(slack, workspace, app, "ORD-1014")
    thread = parent.ts
    posted = await slack.post_message(CHANNEL, "U0MANAGER1", "Called the courier", thread_ts=thread)
    assert posted.response is not None and posted.response.status_code == 200
    first = posted.message.ts
    await eventually(lambda: len(notes(app, thread)) == 1)
    assert notes(app, thread)[0][1:] == ("U0MANAGER1", "Called the courier", None, [])

    # Someone without any role talks too; Slack delivers the event twice (a retry).
    other = f"{float(first) + 1:.6f}"
    hostile = reply(other, thread, "<!channel> *x* & more", user="U0NOROLE")
    await slack.event(hostile, event_id="Ev0NOTE1")
    assert (await slack.event(hostile, event_id="Ev0NOTE1", retry_num=1)).status_code == 200
    await slack.event(hostile, event_id="Ev0NOTE1B")  # the same message under a new event id
    await eventually(lambda: len(notes(app, thread)) == 2)

    ref = next(word for word in parent.text.split() if word.startswith("D-"))
    blocks = await shown(slack, workspace, ref)
    assert "Notes: 2" in blocks and "Called the courier" in blocks
    assert "&lt;!channel&gt; *x* &amp; more" in blocks and "<!channel>" not in blocks
    assert '"type": "plain_text", "text": "&lt;!channel&gt; *x*' in blocks
    card = await eventually(
        lambda: next(
            (m for m in workspace.thread(CHANNEL, thread) if "Notes: 2" in json.dumps(m.blocks)),
            None,
        )
    )
    assert card.user == workspace.bot_user_id

    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": CHANNEL,
        "ts": f"{float(first) + 5:.6f}",
        "hidden": True,
        "message": reply(first, thread, "Called the courier: lost", user="U0MANAGER1")
        | {"edited": {"user": "U0MANAGER1", "ts": f"{float(first) + 5:.6f}"}},
        "previous_message": reply(first, thread, "Called the courier", user="U0MANAGER1"),
    }
    del edit["message"]["channel"], edit["previous_message"]["channel"]
    await slack.event(edit)
    await eventually(lambda: notes(app, thread)[0][2] == "Called the courier: lost")
    assert [h["text"] for h in notes(app, thread)[0][4]] == ["Called the courier"]

    deletion = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": CHANNEL,
        "ts": f"{float(first) + 9:.6f}",
        "deleted_ts": other,
        "hidden": True,
        "previous_message": reply(other, thread, "<!channel> *x* &amp; more", user="U0NOROLE"),
    }
    await slack.event(deletion)
    await eventually(lambda: notes(app, thread)[1][3] is not None)
    assert notes(app, thread)[1][2] == "<!channel> *x* & more"  # the text is kept
    assert "Notes: 1" in await shown(slack, workspace, ref)
    with sqlite3.connect(app.database) as db:
        actions = [
            a
            for (a,) in db.execute(
                "SELECT a.action FROM audit_entries a JOIN disputes d ON d.id = a.dispute_id "
                "WHERE d.thread_ts = ? AND a.action LIKE 'note.%' ORDER BY a.seq",
                (thread,),
            )
        ]
    assert actions == ["note.added", "note.added", "note.edited", "note.deleted"]


async def test_bots_and_top_level_messages_are_not_filed(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    parent = await open_thread(slack, workspace, app, "ORD-1015")
    thread = parent.ts
    base = float(thread)
    bot = reply(f"{base + 1:.6f}", thread, "bot says", bot_id="B0OTHER", subtype="bot_message")
    own = reply(f"{base + 2:.6f}", thread, "the app itself", user=workspace.bot_user_id)
    joined = reply(f"{base + 3:.6f}", thread, "joined", subtype="channel_join")
    await slack.event(bot)
    await slack.event(own)
    await slack.event(joined)
    await slack.post_message(CHANNEL, "U0MANAGER1", "top-level chatter")
    # The events above were queued before this reply; once it is filed, they had their turn.
    await slack.post_message(CHANNEL, "U0MANAGER1", "the marker", thread_ts=thread)
    await eventually(lambda: len(notes(app, thread)) >= 1)
    assert [text for _, _, text, _, _ in notes(app, thread)] == ["the marker"]
    with sqlite3.connect(app.database) as db:
        assert db.execute(
            "SELECT count(*) FROM thread_notes WHERE text LIKE '%chatter%'"
        ).fetchone() == (0,)


async def test_an_edit_handled_before_its_reply_files_the_reply_first(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    parent = await open_thread(slack, workspace, app, "ORD-1015")
    thread = parent.ts
    late = f"{float(thread) + 3:.6f}"  # a reply whose own event has not been handled yet
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": CHANNEL,
        "ts": f"{float(thread) + 6:.6f}",
        "hidden": True,
        "message": reply(late, thread, "Refund the shipping too", user="U0MANAGER2")
        | {"edited": {"user": "U0MANAGER2", "ts": f"{float(thread) + 6:.6f}"}},
        "previous_message": reply(late, thread, "Refund shipping", user="U0MANAGER2"),
    }
    del edit["message"]["channel"], edit["previous_message"]["channel"]
    await slack.event(edit)

    def mine() -> list[tuple[str, str, str, str | None, list[Any]]]:
        return [note for note in notes(app, thread) if note[0] in (late, gone)]

    gone = f"{float(thread) + 8:.6f}"
    await eventually(lambda: mine() and mine()[0][2] != "Refund shipping")
    ((ts, author, text, deleted, history),) = mine()
    assert (ts, author, text, deleted) == (late, "U0MANAGER2", "Refund the shipping too", None)
    assert [h["text"] for h in history] == ["Refund shipping"]
    # The reply's own event, handled now, finds it filed.
    await slack.event(reply(late, thread, "Refund shipping", user="U0MANAGER2"))
    deletion = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": CHANNEL,
        "ts": f"{float(thread) + 9:.6f}",
        "deleted_ts": gone,
        "hidden": True,
        "previous_message": reply(gone, thread, "Never mind", user="U0MANAGER2"),
    }
    await slack.event(deletion)  # a reply deleted before its own event was handled
    # Filed from the deletion's previous message, then marked deleted: two transactions.
    await eventually(lambda: len(mine()) == 2 and mine()[1][3] is not None)
    (first, second) = mine()
    assert first[2] == "Refund the shipping too" and len(first[4]) == 1  # filed once
    assert second[0] == gone and second[2] == "Never mind" and second[3] is not None


async def test_what_is_said_in_a_new_thread_before_it_is_recorded_is_filed(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    # Slack answers the evidence card's post 3 s late: for that long the parent message is in
    # the channel and the thread is not recorded (it is, with its cards, once they are posted).
    workspace.arm_late_answer("chat.postMessage", seconds=3, after=1)
    await slack.command("open ORD-1016 damaged it arrived broken", user="U0MANAGER1")
    parent = await eventually(
        lambda: next((m for m in workspace.history(CHANNEL) if "ORD-1016" in m.text), None)
    )
    thread = parent.ts
    text = "Customer sent a video"
    said = await slack.post_message(CHANNEL, "U0MANAGER1", text, thread_ts=thread)
    await slack.share_file(CHANNEL, "U0MANAGER1", "dent.jpg", JPEG, thread_ts=thread)
    assert not thread_recorded(app.database, thread)

    await eventually(lambda: thread_recorded(app.database, thread) and notes(app, thread))
    assert [note[:3] for note in notes(app, thread)] == [(said.message.ts, "U0MANAGER1", text)]
    with sqlite3.connect(app.database) as db:
        photos = db.execute(
            "SELECT e.summary FROM evidence_items e JOIN disputes d ON d.id = e.dispute_id "
            "WHERE d.thread_ts = ? AND e.source = 'slack:U0MANAGER1'",
            (thread,),
        ).fetchall()
    assert len(photos) == 1
    # The evidence card, posted before either was filed, ends showing both.
    card = workspace.thread(CHANNEL, thread)[1]
    await eventually(
        lambda: "dent.jpg" in json.dumps(card.blocks) and "Notes: 1" in json.dumps(card.blocks)
    )
