"""Slack files in the emulator over real HTTP: files.info, the file URLs, the page's upload
endpoint, and what the driver tells the app (file_share events, file_input submissions)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack.driver import SlackDriver
from sandbox.slack.records import MAX_FILE_BYTES
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import SlackError, Workspace
from tests.support.emulator import PNG, TOKEN, Receiver, slack_error


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def evidence_modal(**file_input: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "evidence.modal",
        "title": {"type": "plain_text", "text": "Add evidence"},
        "submit": {"type": "plain_text", "text": "Add"},
        "blocks": [
            {
                "type": "input",
                "block_id": "file",
                "optional": True,
                "label": {"type": "plain_text", "text": "Files"},
                "element": {"type": "file_input", "action_id": "file", **file_input},
            }
        ],
    }


def open_modal(ws: Workspace, user: str = "U0MANAGER1", **file_input: Any) -> str:
    return ws.open_view(ws.mint_trigger(user), evidence_modal(**file_input)).id


def events(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in receiver.requests]


# -- files.info and the file URLs ------------------------------------------------


async def test_files_info(ws: Workspace, client: AsyncWebClient, server: EmulatorServer) -> None:
    f = ws.add_file("box.png", PNG, user="U0AGENT", mimetype="image/png")
    info = await client.files_info(file=f.id)
    file = info["file"]
    assert (file["id"], file["name"], file["mimetype"], file["filetype"]) == (
        f.id,
        "box.png",
        "image/png",
        "png",
    )
    assert (file["size"], file["user"], file["mode"], file["is_external"]) == (
        len(PNG),
        "U0AGENT",
        "hosted",
        False,
    )
    assert file["url_private"].startswith(server.base_url + "/files-pri/")
    assert file["permalink"].startswith(server.base_url + "/files/U0AGENT/")
    missing = await slack_error(client.files_info(file="F0NOPE"))
    assert missing["error"] == "file_not_found"
    no_arg = await slack_error(client.api_call("files.info", params={}))
    assert no_arg["error"] == "invalid_arguments"
    assert ws.calls_to("files.info")[:2] == [{"file": f.id}, {"file": "F0NOPE"}]


async def test_files_info_says_where_a_file_is_shared(
    ws: Workspace, client: AsyncWebClient
) -> None:
    ws.join("C0SUPERVISORS", ws.bot_user_id)
    done = await client.files_upload_v2(
        content=PNG, filename="chart.png", channel="C0SUPERVISORS", initial_comment="Weekly"
    )
    file = (await client.files_info(file=done["files"][0]["id"]))["file"]
    assert (file["channels"], file["groups"], file["ims"]) == (["C0SUPERVISORS"], [], [])
    kept = ws.add_file("box.png", PNG, user="U0AGENT")
    unshared = (await client.files_info(file=kept.id))["file"]
    assert (unshared["channels"], unshared["groups"], unshared["ims"]) == ([], [], [])
    pending = await client.files_getUploadURLExternal(filename="late.png", length=len(PNG))
    missing = await slack_error(client.files_info(file=pending["file_id"]))
    assert missing["error"] == "file_not_found"  # reserved, never completed


async def test_url_private_needs_the_bot_token(ws: Workspace, http: httpx.AsyncClient) -> None:
    f = ws.add_file("label.pdf", b"%PDF-1.4 label", user="U0AGENT")
    obj = f.to_slack(ws.base_url)
    anonymous = await http.get(obj["url_private"])
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert (await http.get(obj["url_private"], headers=bearer("xoxb-wrong"))).status_code == 403
    assert (await http.get(obj["url_private_download"])).status_code == 401

    private = await http.get(obj["url_private"], headers=bearer())
    assert private.status_code == 200
    assert private.content == b"%PDF-1.4 label"
    assert private.headers["content-type"] == "application/pdf"
    assert private.headers["content-disposition"].startswith("inline")
    download = await http.get(obj["url_private_download"], headers=bearer())
    assert download.content == b"%PDF-1.4 label"
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''label.pdf"

    unknown = obj["url_private"].replace(f.id, "F0NOPE")
    assert (await http.get(unknown, headers=bearer())).status_code == 404
    other_team = obj["url_private"].replace("T0SANDBOX", "T0OTHER")
    assert (await http.get(other_team, headers=bearer())).status_code == 404


async def test_permalink_opens_in_a_browser_without_a_token(
    ws: Workspace, http: httpx.AsyncClient
) -> None:
    image = ws.add_file("crushed box.png", PNG, user="U0AGENT", mimetype="image/png")
    page = ws.add_file("note.html", b"<script>alert(1)</script>", user="U0AGENT")
    # Not shared anywhere yet: only its uploader (the page's current person) sees it.
    uploader = {"user": "U0AGENT"}
    shown = await http.get(image.to_slack(ws.base_url)["permalink"], params=uploader)
    assert shown.status_code == 200
    assert shown.content == PNG
    assert shown.headers["content-type"] == "image/png"
    assert "crushed%20box.png" in shown.headers["content-disposition"]
    # An uploaded page never runs scripts on the emulator's origin.
    html = await http.get(page.to_slack(ws.base_url)["permalink"], params=uploader)
    assert html.headers["content-security-policy"] == "sandbox"
    assert html.headers["x-content-type-options"] == "nosniff"
    wrong_user = await http.get(f"/files/U0MANAGER1/{image.id}/crushed%20box.png", params=uploader)
    assert wrong_user.status_code == 404


# -- a file dropped into a thread --------------------------------------------------


async def test_share_file_sends_a_signed_file_share_event(
    ws: Workspace, driver: SlackDriver, receiver: Receiver, client: AsyncWebClient
) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    parent = ws.post_message("C0DISPUTES", text="D-1 · ORD-1001")
    shared = await driver.share_file(
        "C0DISPUTES", "U0AGENT", "box.png", PNG, "image/png", thread_ts=parent.ts, text="crushed"
    )
    assert shared.response is not None and shared.response.status_code == 200
    assert receiver.requests[-1]["valid"] is True
    envelope = events(receiver)[-1]
    assert envelope["type"] == "event_callback"
    event = envelope["event"]
    assert (event["type"], event["subtype"], event["upload"]) == ("message", "file_share", True)
    assert (event["user"], event["channel"], event["channel_type"]) == (
        "U0AGENT",
        "C0DISPUTES",
        "channel",
    )
    assert (event["ts"], event["event_ts"]) == (shared.message.ts, shared.message.ts)
    assert (event["thread_ts"], event["parent_user_id"]) == (parent.ts, "U0BOT")
    assert event["text"] == "crushed"
    assert event["files"] == [shared.file.to_slack(ws.base_url)]
    assert event["files"][0]["url_private_download"].endswith("/download/box.png")

    # The reply is in the thread for the Web API too, with its file.
    replies = (await client.conversations_replies(channel="C0DISPUTES", ts=parent.ts))["messages"]
    assert replies[0]["reply_count"] == 1
    assert replies[1]["files"][0]["id"] == shared.file.id
    assert replies[1]["subtype"] == "file_share"


async def test_share_file_tells_the_app_only_where_the_bot_is(
    ws: Workspace, driver: SlackDriver, receiver: Receiver
) -> None:
    shared = await driver.share_file("C0DISPUTES", "U0AGENT", "a.txt", b"hello", "text/plain")
    assert shared.response is None and receiver.requests == []
    assert ws.history("C0DISPUTES")[-1].files == [shared.file.id]
    # In a DM with the bot it does hear, as an `im` message.
    dm = await driver.share_file("D0AGENT", "U0AGENT", "b.txt", b"hi")
    assert dm.response is not None
    assert events(receiver)[-1]["event"]["channel_type"] == "im"


async def test_share_file_refusals(ws: Workspace, driver: SlackDriver) -> None:
    with pytest.raises(SlackError, match="thread_not_found"):
        await driver.share_file("C0DISPUTES", "U0AGENT", "a.txt", b"x", thread_ts="1.000001")
    with pytest.raises(SlackError, match="file_too_large"):
        await driver.share_file("C0DISPUTES", "U0AGENT", "a.bin", b"\0" * (MAX_FILE_BYTES + 1))
    assert ws.files == {} and ws.history("C0DISPUTES") == []


# -- file_input in a modal ----------------------------------------------------------


async def test_view_submission_carries_full_file_objects(
    ws: Workspace, driver: SlackDriver, receiver: Receiver
) -> None:
    photo = ws.add_file("box.png", PNG, user="U0MANAGER1", mimetype="image/png")
    label = ws.add_file("label.pdf", b"%PDF", user="U0MANAGER1")
    open_modal(ws, max_files=10)
    await driver.view_submission({"file": {"file": [photo.id, label.id]}})
    entry = receiver.payload()["view"]["state"]["values"]["file"]["file"]
    assert entry == {
        "type": "file_input",
        "files": [photo.to_slack(ws.base_url), label.to_slack(ws.base_url)],
    }

    open_modal(ws)
    await driver.view_submission({"file": {"file": photo.id}})
    single = receiver.payload()["view"]["state"]["values"]["file"]["file"]["files"]
    assert [f["id"] for f in single] == [photo.id]

    open_modal(ws)
    await driver.view_submission({})
    untouched = receiver.payload()["view"]["state"]["values"]["file"]["file"]
    assert untouched == {"type": "file_input", "files": []}


async def test_view_submission_with_an_unknown_file_id_is_refused(
    ws: Workspace, driver: SlackDriver, receiver: Receiver
) -> None:
    view_id = open_modal(ws)
    with pytest.raises(SlackError, match="file_not_found"):
        await driver.view_submission({"file": {"file": ["F0NOPE"]}})
    assert receiver.requests == []
    assert ws.find_view(view_id).state == {"values": {}}


# -- the page's upload endpoint -------------------------------------------------------


async def test_upload_without_a_channel_keeps_the_file_for_a_modal(
    ws: Workspace,
    server: EmulatorServer,
    driver: SlackDriver,
    receiver: Receiver,
    http: httpx.AsyncClient,
) -> None:
    server.attach_driver(driver)
    view_id = open_modal(ws, user="U0MANAGER2")
    resp = await http.post(
        "/_sandbox/ui/upload",
        files={"file": ("box.png", PNG, "image/png")},
        data={"user": "U0MANAGER2"},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["ok"] is True and set(body) == {"ok", "file"}
    file = body["file"]
    assert (file["name"], file["user"], file["size"]) == ("box.png", "U0MANAGER2", len(PNG))
    assert ws.file(file["id"]).content == PNG
    assert receiver.requests == [] and ws.history("C0DISPUTES") == []

    # The page then submits the modal with the file's id, as the existing submit flow does.
    submitted = await http.post(
        "/_sandbox/ui/submit",
        json={"user": "U0MANAGER2", "view_id": view_id, "values": {"file": {"file": [file["id"]]}}},
    )
    assert submitted.json()["ok"] is True
    files = receiver.payload()["view"]["state"]["values"]["file"]["file"]["files"]
    assert files == [file]


async def test_upload_into_a_thread_shares_it_as_the_person(
    ws: Workspace,
    server: EmulatorServer,
    driver: SlackDriver,
    receiver: Receiver,
    http: httpx.AsyncClient,
) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    parent = ws.post_message("C0DISPUTES", text="D-1")
    form = {"user": "U0AGENT", "channel": "C0DISPUTES", "thread_ts": parent.ts, "text": " hi "}
    no_app = await http.post(
        "/_sandbox/ui/upload", files={"file": ("a.txt", b"x", "text/plain")}, data=form
    )
    assert no_app.json()["error"] == "no_app" and ws.files == {}
    server.attach_driver(driver)
    resp = await http.post(
        "/_sandbox/ui/upload", files={"file": ("notes.txt", b"tracking", "text/plain")}, data=form
    )
    body = resp.json()
    assert body["ok"] is True and body["status"] == 200
    assert (body["channel"], body["file"]["name"]) == ("C0DISPUTES", "notes.txt")
    reply = ws.message("C0DISPUTES", body["ts"])
    assert reply is not None and reply.thread_ts == parent.ts and reply.user == "U0AGENT"
    assert reply.text == "hi" and reply.files == [body["file"]["id"]]
    event = events(receiver)[-1]["event"]
    assert (event["subtype"], event["thread_ts"], event["user"]) == (
        "file_share",
        parent.ts,
        "U0AGENT",
    )
    assert receiver.requests[-1]["valid"] is True

    gone = await http.post(
        "/_sandbox/ui/upload",
        files={"file": ("a.txt", b"x", "text/plain")},
        data={**form, "channel": "#nowhere"},
    )
    assert (gone.status_code, gone.json()["error"]) == (400, "channel_not_found")
    assert len(ws.files) == 1


async def test_upload_refusals(ws: Workspace, http: httpx.AsyncClient) -> None:
    too_big = await http.post(
        "/_sandbox/ui/upload",
        files={"file": ("big.bin", b"\0" * (MAX_FILE_BYTES + 1), "application/octet-stream")},
        data={"user": "U0AGENT"},
    )
    assert too_big.status_code == 413
    assert too_big.json() == {
        "ok": False,
        "error": "file_too_large",
        "detail": "Files are limited to 10 MB.",
    }
    # A body far over the limit is refused from its Content-Length, before it is read.
    far_too_big = await http.post(
        "/_sandbox/ui/upload",
        files={"file": ("huge.bin", b"\0" * (MAX_FILE_BYTES + 100_000), "x/y")},
    )
    assert far_too_big.status_code == 413
    no_file = await http.post("/_sandbox/ui/upload", data={"user": "U0AGENT"})
    assert no_file.status_code == 400 and no_file.json()["error"] == "no_file"
    assert ws.files == {}


async def test_shared_files_show_on_the_plain_page(ws: Workspace, http: httpx.AsyncClient) -> None:
    msg = ws.share_file("C0DISPUTES", "U0AGENT", "<b>.png", PNG, "image/png")
    html = (await http.get("/_sandbox/plain")).text
    permalink = ws.file(msg.files[0]).to_slack(ws.base_url)["permalink"]
    assert f'<a href="{permalink}">📎 &lt;b&gt;.png</a>' in html
    state = (await http.get("/_sandbox/state?user=U0MANAGER1")).json()
    assert state["messages"][-1]["files"][0]["permalink"] == permalink


async def test_other_sites_cannot_post_to_the_page_and_uploads_must_say_their_length(
    http: httpx.AsyncClient, server: EmulatorServer, ws: Workspace
) -> None:
    command = {"channel": "C0DISPUTES", "text": "/dispute help"}
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": server.base_url},
    ):
        refused = await http.post("/_sandbox/ui/command", json=command, headers=headers)
        assert (refused.status_code, refused.json()["error"]) == (403, "cross_site_request")
        form = await http.post("/customer/reply", data={"dispute": "D-1"}, headers=headers)
        assert form.status_code == 403
    # The page itself (same origin) gets through to the endpoint, which answers on its own.
    same = {"Origin": server.base_url, "Sec-Fetch-Site": "same-origin"}
    answered = await http.post("/_sandbox/ui/command", json=command, headers=same)
    assert answered.status_code != 403

    async def chunks():  # a body without Content-Length (chunked)
        yield b"--x\r\n"

    chunked = await http.post(
        "/_sandbox/ui/upload",
        content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=x", **same},
    )
    assert (chunked.status_code, chunked.json()["error"]) == (411, "length_required")
    assert ws.files == {}
