"""Slack's current upload flow on the emulator over real HTTP (files.getUploadURLExternal, the
one-time upload URL, files.completeUploadExternal: what `files_upload_v2` calls), and who may
open a file's permalink."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack.records import MAX_FILE_BYTES
from sandbox.slack.server import EmulatorServer
from sandbox.slack.session import USER_COOKIE
from sandbox.slack.workspace import Channel, User, Workspace
from tests.support.emulator import PNG, slack_error


def dispute_thread(ws: Workspace) -> str:
    ws.join("C0DISPUTES", "U0BOT")
    return ws.post_message("C0DISPUTES", text="D-1 · ORD-1001").ts


async def reserve(client: AsyncWebClient, name: str, content: bytes) -> tuple[str, str]:
    resp = await client.files_getUploadURLExternal(filename=name, length=len(content))
    return str(resp["file_id"]), str(resp["upload_url"])


async def uploaded(
    client: AsyncWebClient, http: httpx.AsyncClient, name: str = "a.txt", content: bytes = b"hi"
) -> str:
    file_id, url = await reserve(client, name, content)
    assert (await http.post(url, content=content)).status_code == 200
    return file_id


# -- files_upload_v2 end to end ----------------------------------------------------------


async def test_files_upload_v2_shares_two_files_in_one_thread_message(
    ws: Workspace, client: AsyncWebClient, server: EmulatorServer
) -> None:
    thread_ts = dispute_thread(ws)
    done = await client.files_upload_v2(
        file_uploads=[
            {"content": PNG, "filename": "crushed box.png", "title": "Box, as it arrived"},
            {"content": b"%PDF-1.4 label", "filename": "label.pdf", "title": "Label"},
        ],
        channel="C0DISPUTES",
        thread_ts=thread_ts,
        initial_comment="Evidence for D-1",
    )
    files = done["files"]
    assert [set(f) for f in files] == [{"id", "title"}, {"id", "title"}]
    assert [f["title"] for f in files] == ["Box, as it arrived", "Label"]
    ids = [f["id"] for f in files]

    replies = ws.thread("C0DISPUTES", thread_ts)[1:]
    assert len(replies) == 1
    reply = replies[0]
    assert (reply.user, reply.bot_id, reply.text, reply.files) == (
        "U0BOT",
        "B0BOT",
        "Evidence for D-1",
        ids,
    )
    assert reply.thread_ts == thread_ts

    photo = (await client.files_info(file=ids[0]))["file"]
    assert (photo["name"], photo["title"], photo["user"]) == (
        "crushed box.png",
        "Box, as it arrived",
        "U0BOT",
    )
    assert (photo["mimetype"], photo["filetype"], photo["size"]) == ("image/png", "png", len(PNG))
    assert photo["permalink"] == (f"{server.base_url}/files/U0BOT/{ids[0]}/crushed%20box.png")
    label = (await client.files_info(file=ids[1]))["file"]
    assert (label["mimetype"], label["filetype"]) == ("application/pdf", "pdf")
    assert ws.file(ids[1]).content == b"%PDF-1.4 label"

    # What the SDK sent, step by step: one reservation per file, one completion.
    reservations = ws.calls_to("files.getUploadURLExternal")
    assert [(c["filename"], str(c["length"])) for c in reservations] == [
        ("crushed box.png", str(len(PNG))),
        ("label.pdf", "14"),
    ]
    (completion,) = ws.calls_to("files.completeUploadExternal")
    assert completion["files"] == [
        {"id": ids[0], "title": "Box, as it arrived"},
        {"id": ids[1], "title": "Label"},
    ]
    assert (completion["channel_id"], completion["thread_ts"]) == ("C0DISPUTES", thread_ts)
    assert ws.uploads == {}


async def test_files_upload_v2_with_one_file(
    ws: Workspace, client: AsyncWebClient, http: httpx.AsyncClient
) -> None:
    thread_ts = dispute_thread(ws)
    done = await client.files_upload_v2(
        file_uploads=[{"content": b"tracking: 1Z999", "filename": "notes.txt", "title": "Notes"}],
        channel="C0DISPUTES",
        thread_ts=thread_ts,
        initial_comment="one file",
    )
    assert done["file"] == {"id": done["files"][0]["id"], "title": "Notes"}
    info = (await client.files_info(file=done["file"]["id"]))["file"]
    assert (info["mimetype"], info["filetype"]) == ("text/plain", "text")
    reply = ws.thread("C0DISPUTES", thread_ts)[-1]
    assert (reply.text, reply.files) == ("one file", [done["file"]["id"]])

    # Members of the channel open it in the browser; the Web API shows the reply with it.
    shown = await http.get(info["permalink"], params={"user": "U0AGENT"})
    assert (shown.status_code, shown.content) == (200, b"tracking: 1Z999")
    api_reply = (await client.conversations_replies(channel="C0DISPUTES", ts=thread_ts))[
        "messages"
    ][-1]
    assert (api_reply["subtype"], api_reply["files"][0]["id"]) == (
        "file_share",
        done["file"]["id"],
    )


async def test_completing_without_a_channel_keeps_the_file_private(
    ws: Workspace, client: AsyncWebClient, http: httpx.AsyncClient
) -> None:
    file_id = await uploaded(client, http, "draft.txt", b"draft")
    done = await client.files_completeUploadExternal(files=[{"id": file_id}])
    assert done["files"] == [{"id": file_id, "title": "draft.txt"}]
    assert ws.file(file_id).shared_in == set()
    assert all(m.files == [] for m in ws.history("C0DISPUTES"))


async def test_channels_as_a_comma_list_posts_once_in_each(
    ws: Workspace, client: AsyncWebClient, http: httpx.AsyncClient
) -> None:
    ws.join("C0DISPUTES", "U0BOT")
    ws.join("C0SUPERVISORS", "U0BOT")
    file_id = await uploaded(client, http)
    await client.api_call(
        "files.completeUploadExternal",
        data={"files": json.dumps([{"id": file_id}]), "channels": "C0DISPUTES,C0SUPERVISORS"},
    )
    for channel in ("C0DISPUTES", "C0SUPERVISORS"):
        assert [m.files for m in ws.history(channel)] == [[file_id]]
    assert ws.file(file_id).shared_in == {"C0DISPUTES", "C0SUPERVISORS"}


# -- the upload URL ------------------------------------------------------------------------


async def test_the_upload_url_takes_raw_bytes_once_without_a_token(
    ws: Workspace, client: AsyncWebClient, http: httpx.AsyncClient, server: EmulatorServer
) -> None:
    file_id, url = await reserve(client, "box.png", PNG)
    assert file_id.startswith("F") and int(file_id[1:], 16)
    assert url.startswith(server.base_url + "/_upload/v1/")
    first = await http.post(url, content=PNG)
    assert (first.status_code, first.text) == (200, f"OK - {len(PNG)}")
    again = await http.post(url, content=PNG)
    assert again.status_code == 404
    unknown = await http.post(server.base_url + "/_upload/v1/nope", content=b"x")
    assert unknown.status_code == 404
    assert ws.uploads[file_id].content == PNG
    # Ids come from the same series as every other file's.
    later = ws.add_file("later.txt", b"x", user="U0AGENT")
    assert int(later.id[1:], 16) > int(file_id[1:], 16)


async def test_the_upload_url_takes_a_multipart_file_part(
    ws: Workspace, client: AsyncWebClient, http: httpx.AsyncClient
) -> None:
    file_id, url = await reserve(client, "box.png", PNG)
    resp = await http.post(url, files={"file": ("box.png", PNG, "image/png")})
    assert (resp.status_code, resp.text) == (200, f"OK - {len(PNG)}")
    assert ws.uploads[file_id].content == PNG
    _, other = await reserve(client, "x.txt", b"x")
    fields_only = b'--x\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--x--\r\n'
    no_part = await http.post(
        other, content=fields_only, headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert (no_part.status_code, no_part.text) == (400, "no file part")


async def test_the_upload_url_refuses_bodies_over_the_limit(
    ws: Workspace, client: AsyncWebClient, http: httpx.AsyncClient
) -> None:
    file_id, url = await reserve(client, "big.bin", b"x")
    over = await http.post(url, content=b"\0" * (MAX_FILE_BYTES + 1))
    assert over.status_code == 413

    async def endless() -> AsyncIterator[bytes]:  # chunked: no Content-Length
        chunk = b"\0" * 2**20
        for _ in range(64):
            yield chunk

    chunked = await http.post(url, content=endless())
    assert chunked.status_code == 413
    assert ws.uploads[file_id].content is None
    # A refused body does not spend the URL.
    assert (await http.post(url, content=b"fine")).status_code == 200


# -- refusals --------------------------------------------------------------------------------


async def test_get_upload_url_refusals(ws: Workspace, client: AsyncWebClient) -> None:
    no_name = await slack_error(client.api_call("files.getUploadURLExternal", params={"length": 3}))
    assert no_name["error"] == "invalid_arguments"
    no_length = await slack_error(
        client.api_call("files.getUploadURLExternal", params={"filename": "a.txt"})
    )
    assert no_length["error"] == "invalid_arguments"
    for bad in ("0", "-1", "ten", "1.5"):
        refused = await slack_error(client.files_getUploadURLExternal(filename="a", length=bad))
        assert refused["error"] == "invalid_arguments", bad
    too_big = await slack_error(
        client.files_getUploadURLExternal(filename="a.bin", length=MAX_FILE_BYTES + 1)
    )
    assert too_big["error"] == "file_too_large"
    wrong_token = await slack_error(
        client.files_getUploadURLExternal(filename="a", length=1, token="xoxb-wrong")
    )
    assert wrong_token["error"] == "invalid_auth"
    assert ws.uploads == {}
    assert len(ws.calls_to("files.getUploadURLExternal")) == 7


async def test_complete_upload_refusals(
    ws: Workspace, client: AsyncWebClient, http: httpx.AsyncClient
) -> None:
    thread_ts = dispute_thread(ws)
    file_id = await uploaded(client, http)
    reserved_only, _ = await reserve(client, "later.txt", b"later")

    async def complete(**kw: Any) -> dict[str, Any]:
        return await slack_error(client.files_completeUploadExternal(**kw))

    assert (await complete(files=[{"id": "F0NOPE"}]))["error"] == "file_not_found"
    not_uploaded = await complete(files=[{"id": file_id}, {"id": reserved_only}])
    assert not_uploaded["error"] == "file_upload_not_complete"
    assert (await complete(files=[]))["error"] == "invalid_arguments"
    assert (await complete(files=[{"title": "no id"}]))["error"] == "invalid_arguments"
    no_files = await slack_error(client.api_call("files.completeUploadExternal", params={}))
    assert no_files["error"] == "invalid_arguments"
    bad_json = await slack_error(
        client.api_call("files.completeUploadExternal", data={"files": "[{"})
    )
    assert bad_json["error"] == "invalid_json"
    one = [{"id": file_id}]
    assert (await complete(files=one, channel_id="C0SUPERVISORS"))["error"] == "not_in_channel"
    assert (await complete(files=one, channel_id="C0NOPE"))["error"] == "channel_not_found"
    lost = await complete(files=one, channel_id="C0DISPUTES", thread_ts="1.000001")
    assert lost["error"] == "thread_not_found"
    two_places = await complete(
        files=one, channels=["C0DISPUTES", "C0SUPERVISORS"], thread_ts=thread_ts
    )
    assert two_places["error"] == "invalid_arguments"

    # Nothing above created a file or a message; the upload still completes once.
    assert file_id not in ws.files and len(ws.thread("C0DISPUTES", thread_ts)) == 1
    await client.files_completeUploadExternal(
        files=one, channel_id="C0DISPUTES", thread_ts=thread_ts
    )
    assert ws.file(file_id).user == "U0BOT"
    assert (await complete(files=one))["error"] == "file_not_found"
    assert len(ws.calls_to("files.completeUploadExternal")) == 11  # not the invalid JSON


# -- who may open a permalink ----------------------------------------------------------------


async def test_permalink_shows_a_file_only_to_whom_it_was_shared_with(
    ws: Workspace, http: httpx.AsyncClient
) -> None:
    f = ws.add_file("box.png", PNG, user="U0AGENT", mimetype="image/png")
    link = f.to_slack(ws.base_url)["permalink"]

    async def status(user: str, *, cookie: bool = False) -> int:
        if cookie:
            async with httpx.AsyncClient(cookies={USER_COOKIE: user}) as browser:
                return (await browser.get(link)).status_code
        return (await http.get(link, params={"user": user})).status_code

    assert await status("U0AGENT") == 200
    assert await status("U0AGENT", cookie=True) == 200
    hidden = await http.get(link, params={"user": "U0MANAGER1"})
    assert hidden.status_code == 404
    assert "private to whoever uploaded it until it is shared" in hidden.text
    assert await status("U0MANAGER1", cookie=True) == 404

    ws.post_message("C0DISPUTES", text="see", user="U0AGENT", files=[f.id])
    assert await status("U0MANAGER1") == 200
    assert await status("U0MANAGER2", cookie=True) == 200
    # In a public channel it is public, as on Slack: a newcomer outside the channel sees it too.
    ws.add_user(User("U0NEW", "nia", "Nia Newcomer"))
    assert await status("U0NEW") == 200


async def test_a_file_in_a_private_channel_stays_with_its_members(
    ws: Workspace, client: AsyncWebClient
) -> None:
    ws.add_channel(Channel("C0LEGAL", "legal", {"U0SUPER", "U0BOT"}, is_private=True))
    done = await client.files_upload_v2(
        content=b"settlement", filename="terms.txt", channel="C0LEGAL"
    )
    link = (await client.files_info(file=done["file"]["id"]))["file"]["permalink"]
    async with httpx.AsyncClient() as browser:
        member = await browser.get(link, params={"user": "U0SUPER"})
        outsider = await browser.get(link, params={"user": "U0AGENT"})
        default_person = await browser.get(link)
    assert (member.status_code, member.content) == (200, b"settlement")
    assert outsider.status_code == 404 and "private" in outsider.text
    assert default_person.status_code == 404
    # The app itself still reads it with its token.
    assert (await client.files_info(file=done["file"]["id"]))["ok"] is True
