"""Events and evidence from Slack: App Home, retried events, files dropped in a thread or attached
in the "Add evidence" modal."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import httpx

from sandbox.slack.blockkit import validate_view
from sandbox.slack.driver import SlackDriver
from sandbox.slack.workspace import Message, View, Workspace
from sandbox.waiting import eventually
from tests.support.app_process import AppProcess
from tests.support.emulator import JPEG, PNG
from tests.support.threads import thread_recorded

HOME = {"type": "app_home_opened", "user": "U0SUPER", "channel": "D0SUPER", "tab": "home"}


async def test_app_home_lists_open_disputes(slack: SlackDriver, workspace: Workspace) -> None:
    await slack.command("open ORD-1012 defective stopped working", user="U0SUPER")
    await eventually(lambda: any("ORD-1012" in m.text for m in workspace.history("C0DISPUTES")))
    response = await slack.event(HOME)
    assert response.status_code == 200
    view = await eventually(lambda: workspace.home_views.get("U0SUPER"))
    rendered = json.dumps(view.view, ensure_ascii=False)
    assert "ORD-1012 · Defective" in rendered
    assert validate_view(view.view) == []


async def test_event_retries_are_processed_once(slack: SlackDriver, workspace: Workspace) -> None:
    before = len(workspace.calls_to("views.publish"))
    first = await slack.event(HOME, event_id="Ev0RETRY1")
    await eventually(lambda: len(workspace.calls_to("views.publish")) == before + 1)
    retries = [await slack.event(HOME, event_id="Ev0RETRY1", retry_num=n) for n in (1, 2, 3)]
    assert first.status_code == 200
    assert [(r.status_code, r.content) for r in retries] == [(200, b"")] * 3
    fresh = await slack.event(HOME, event_id="Ev0FRESH1")
    assert fresh.status_code == 200
    await eventually(lambda: len(workspace.calls_to("views.publish")) == before + 2)
    assert len(workspace.calls_to("views.publish")) == before + 2


async def open_thread(
    slack: SlackDriver, workspace: Workspace, app: AppProcess, order_id: str
) -> Message:
    """Open a dispute for `order_id`; its parent message once both cards are in the thread and
    the app has recorded them (after the last post: until then the dispute has no thread)."""
    await slack.command(f"open {order_id} damaged it arrived broken", user="U0MANAGER1")
    parent = await eventually(
        lambda: next((m for m in workspace.history("C0DISPUTES") if order_id in m.text), None)
    )
    await eventually(lambda: len(workspace.thread("C0DISPUTES", parent.ts)) >= 3)
    await eventually(lambda: thread_recorded(app.database, parent.ts))
    return parent


def filed(app: AppProcess, user: str = "U0MANAGER1") -> list[tuple[str, str, str]]:
    with sqlite3.connect(app.database) as db:
        return db.execute(
            "SELECT kind, summary, url FROM evidence_items WHERE source = ? ORDER BY id",
            (f"slack:{user}",),
        ).fetchall()


async def test_files_dropped_into_a_thread_become_evidence(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    parent = await open_thread(slack, workspace, app, "ORD-1013")
    before = len(filed(app))
    shared = await slack.share_file(
        "C0DISPUTES", "U0MANAGER1", "engraving.jpg", JPEG, thread_ts=parent.ts, text="photos"
    )
    assert shared.response is not None and shared.response.status_code == 200
    await slack.share_file(
        "C0DISPUTES", "U0MANAGER1", "receipt.pdf", b"%PDF-1.4", thread_ts=parent.ts
    )
    # Each message is its own job: they may be filed in either order.
    rows = await eventually(lambda: len(filed(app)) == before + 2 and sorted(filed(app)[before:]))
    photo_link = shared.file.to_slack(workspace.base_url)["permalink"]
    assert [(kind, url == photo_link) for kind, _, url in rows] == [
        ("ATTACHMENT", False),
        ("PROOF_OF_DAMAGE", True),
    ]
    assert rows[0][2].startswith(workspace.base_url)
    # The card ends showing both, whichever job updates it last.
    card = workspace.thread("C0DISPUTES", parent.ts)[1]
    await eventually(
        lambda: all(name in json.dumps(card.blocks) for name in ("receipt.pdf", "engraving.jpg"))
    )

    # The same event again (Slack's retry) files nothing more; nor does a message without
    # files, or a file in a thread that is not a dispute's.
    retry = await slack.event(
        slack.message_event(shared.message), event_id=shared.event_id, retry_num=1
    )
    assert retry.status_code == 200
    top = workspace.post_message("C0DISPUTES", text="not a dispute", user="U0AGENT")
    await slack.share_file("C0DISPUTES", "U0AGENT", "x.png", PNG, thread_ts=top.ts)
    await slack.event(
        {
            "type": "message",
            "channel": "C0DISPUTES",
            "user": "U0MANAGER1",
            "text": "hi",
            "ts": "1795690000.000200",
            "thread_ts": parent.ts,
        }
    )
    await asyncio.sleep(0.5)
    assert len(filed(app)) == before + 2 and filed(app, "U0AGENT") == []


async def test_file_stubs_are_completed_with_files_info_and_hidden_files_skipped(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    parent = await open_thread(slack, workspace, app, "ORD-1017")
    before = len(filed(app))
    label = workspace.add_file("return-label.pdf", b"%PDF-1.4", user="U0MANAGER1")
    calls = len(workspace.calls_to("files.info"))
    # In Slack Connect channels the event carries only a stub; hidden files carry no content.
    stub = {"id": label.id, "file_access": "check_file_info", "created": 0, "timestamp": 0}
    hidden = {"id": "F0HIDDEN", "mode": "hidden_by_limit", "name": "old.png"}
    message = {
        "type": "message",
        "subtype": "file_share",
        "channel": "C0DISPUTES",
        "user": "U0MANAGER1",
        "text": "",
        "ts": "1795690000.000400",
        "thread_ts": parent.ts,
        "files": [stub, hidden],
    }
    assert (await slack.event(message)).status_code == 200
    rows = await eventually(lambda: len(filed(app)) == before + 1 and filed(app)[before:])
    link = label.to_slack(workspace.base_url)["permalink"]
    assert rows == [("ATTACHMENT", "return-label.pdf shared by <@U0MANAGER1>", link)]
    assert [c["file"] for c in workspace.calls_to("files.info")[calls:]] == [label.id]


async def test_add_evidence_modal_files_note_link_and_files(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    parent = await open_thread(slack, workspace, app, "ORD-1014")
    before = len(filed(app))

    async def open_modal() -> View:
        await slack.block_action("evidence.add", message_ts=None)
        return await eventually(lambda: workspace.top_view("U0MANAGER1"))

    view = await open_modal()
    assert [b["block_id"] for b in view.view["blocks"]] == ["kind", "note", "link", "file"]
    assert validate_view(view.view) == []

    # Bad input: the errors come back next to the fields, nothing is filed.
    response = await slack.view_submission({"note": {"note": "  "}, "link": {"link": "ftp://x"}})
    errors = response.json()["errors"]
    assert set(errors) == {"kind", "note", "link"}
    assert len(filed(app)) == before

    # A note and a link alone; then a note with two files.
    await slack.view_submission(
        {
            "kind": {"kind": "CUSTOMER_COMMUNICATION"},
            "note": {"note": "Carrier confirms the return scan"},
            "link": {"link": "https://carrier.example/track/1Z999"},
        }
    )
    view = await open_modal()
    photo = workspace.add_file("lid.png", PNG, user="U0MANAGER1")
    report = workspace.add_file("warehouse.pdf", b"%PDF-1.4", user="U0MANAGER1")
    await slack.view_submission(
        {
            "kind": {"kind": "PROOF_OF_DAMAGE"},
            "note": {"note": "Warehouse re-inspection"},
            "file": {"file": [photo.id, report.id]},
        },
        view_id=view.id,
    )
    rows = await eventually(lambda: len(filed(app)) == before + 3 and sorted(filed(app)[before:]))
    assert [(kind, summary) for kind, summary, _ in rows] == [
        ("CUSTOMER_COMMUNICATION", "Carrier confirms the return scan"),
        ("PROOF_OF_DAMAGE", "Warehouse re-inspection (lid.png)"),
        ("PROOF_OF_DAMAGE", "Warehouse re-inspection (warehouse.pdf)"),
    ]
    assert rows[0][2] == "https://carrier.example/track/1Z999"
    card = workspace.thread("C0DISPUTES", parent.ts)[1]
    await eventually(lambda: "warehouse.pdf" in json.dumps(card.blocks))

    # The modal's uploads are private to Max; the app posted copies in the thread, in one
    # message with the note, and filed those: another manager can open them.
    (copies,) = [m for m in workspace.thread("C0DISPUTES", parent.ts) if m.files]
    assert copies.user == workspace.bot_user_id
    assert copies.text == "Evidence from <@U0MANAGER1>: Warehouse re-inspection"
    shared = [workspace.file(fid) for fid in copies.files]
    assert [(f.name, f.content) for f in shared] == [
        ("lid.png", PNG),
        ("warehouse.pdf", b"%PDF-1.4"),
    ]
    links = {f.to_slack(workspace.base_url)["permalink"] for f in shared}
    assert {url for _, _, url in rows[1:]} == links
    async with httpx.AsyncClient() as http:
        for url in links:
            assert (await http.get(url, params={"user": "U0MANAGER2"})).status_code == 200
        original = photo.to_slack(workspace.base_url)["permalink"]
        assert (await http.get(original, params={"user": "U0MANAGER2"})).status_code == 404


async def test_modal_files_that_cannot_be_copied_are_filed_as_they_are_and_the_person_told(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    parent = await open_thread(slack, workspace, app, "ORD-1016")
    before = len(filed(app))
    await slack.block_action("evidence.add")
    opened = await eventually(lambda: workspace.top_view("U0MANAGER1"))
    gone = {
        "id": "F0GONE",
        "name": "gone.png",
        "mimetype": "image/png",
        "url_private_download": f"{workspace.base_url}/files-pri/T0SANDBOX-F0GONE/gone.png",
        "permalink": f"{workspace.base_url}/files/U0MANAGER1/F0GONE/gone.png",
    }
    await slack.view_submission(
        {
            "kind": {"kind": "PROOF_OF_DAMAGE"},
            "note": {"note": "Customer's photo"},
            "file": {"file": {"type": "file_input", "files": [gone]}},
        },
        view_id=opened.id,
    )
    rows = await eventually(lambda: len(filed(app)) == before + 1 and filed(app)[before:])
    assert rows == [("PROOF_OF_DAMAGE", "Customer's photo (gone.png)", gone["permalink"])]
    notice = await eventually(
        lambda: next(
            (e for e in workspace.ephemerals_for("U0MANAGER1") if "could not be posted" in e.text),
            None,
        )
    )
    assert notice.text.startswith("Your evidence for D-") and "404" in notice.text
    assert notice.thread_ts == parent.ts
    assert not [m for m in workspace.thread("C0DISPUTES", parent.ts) if m.files]


async def test_a_closed_dispute_takes_no_more_files_and_says_so(
    slack: SlackDriver, workspace: Workspace, app: AppProcess
) -> None:
    parent = await open_thread(slack, workspace, app, "ORD-1015")
    with sqlite3.connect(app.database) as db:
        db.execute("UPDATE disputes SET status = 'withdrawn' WHERE thread_ts = ?", (parent.ts,))
    before = len(filed(app))
    await slack.share_file("C0DISPUTES", "U0MANAGER1", "late.png", PNG, thread_ts=parent.ts)
    notice = await eventually(
        lambda: next(
            (e for e in workspace.ephemerals_for("U0MANAGER1") if "takes no more" in e.text), None
        )
    )
    assert "is withdrawn: its case file is closed" in notice.text
    assert notice.thread_ts == parent.ts
    assert len(filed(app)) == before
