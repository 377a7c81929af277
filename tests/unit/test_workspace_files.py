"""Files in the sandbox workspace: uploads, their Slack file objects, file_share messages."""

from __future__ import annotations

import pytest

from sandbox.page.transcript import render_transcript
from sandbox.slack.records import MAX_FILE_BYTES, filetype_of, guess_mimetype, safe_file_name
from sandbox.slack.workspace import SlackError, Workspace

BASE = "http://127.0.0.1:9"


@pytest.fixture
def ws() -> Workspace:
    workspace = Workspace.default(clock=lambda: 1_700_000_000.0)
    workspace.base_url = BASE
    return workspace


def test_add_file_and_its_slack_object(ws: Workspace) -> None:
    f = ws.add_file("box.png", b"\x89PNG-bytes", user="U0AGENT", mimetype="image/png")
    assert f.id.startswith("F") and f.id[1:] == f.id[1:].upper()
    int(f.id[1:], 16)  # upper hex
    assert ws.file(f.id) is f
    obj = f.to_slack(BASE)
    assert obj["id"] == f.id
    assert (obj["name"], obj["title"], obj["user"]) == ("box.png", "box.png", "U0AGENT")
    assert (obj["mimetype"], obj["filetype"], obj["pretty_type"]) == ("image/png", "png", "PNG")
    assert obj["size"] == len(b"\x89PNG-bytes")
    assert obj["created"] == obj["timestamp"] == 1_700_000_000
    assert (obj["is_external"], obj["mode"], obj["is_public"]) == (False, "hosted", False)
    assert obj["url_private"] == f"{BASE}/files-pri/T0SANDBOX-{f.id}/box.png"
    assert obj["url_private_download"] == f"{BASE}/files-pri/T0SANDBOX-{f.id}/download/box.png"
    assert obj["permalink"] == f"{BASE}/files/U0AGENT/{f.id}/box.png"


def test_unknown_file_and_unknown_uploader(ws: Workspace) -> None:
    with pytest.raises(SlackError, match="file_not_found"):
        ws.file("F0NOPE")
    with pytest.raises(SlackError, match="user_not_found"):
        ws.add_file("a.txt", b"x", user="U0GHOST")


def test_files_over_10_mb_are_refused(ws: Workspace) -> None:
    assert ws.add_file("big.bin", b"\0" * MAX_FILE_BYTES, user="U0AGENT").size == MAX_FILE_BYTES
    with pytest.raises(SlackError) as exc:
        ws.add_file("bigger.bin", b"\0" * (MAX_FILE_BYTES + 1), user="U0AGENT")
    assert exc.value.error == "file_too_large"
    assert "10 MB" in exc.value.extra["detail"]


@pytest.mark.parametrize(
    ("name", "mimetype", "filetype", "expected_mimetype"),
    [
        ("photo.JPEG", "", "jpg", "image/jpeg"),
        ("notes.txt", "application/octet-stream", "text", "text/plain"),
        ("label.pdf", "application/pdf", "pdf", "application/pdf"),
        ("blob", "", "binary", "application/octet-stream"),
        ("scan", "image/png", "png", "image/png"),
    ],
)
def test_filetype_and_mimetype(
    name: str, mimetype: str, filetype: str, expected_mimetype: str
) -> None:
    guessed = guess_mimetype(name, mimetype)
    assert guessed == expected_mimetype
    assert filetype_of(name, guessed) == filetype


def test_uploaded_names_lose_their_path() -> None:
    assert safe_file_name("C:\\Users\\ana\\box.png") == "box.png"
    assert safe_file_name("../../etc/passwd") == "passwd"
    assert safe_file_name("") == "file"


def test_share_file_posts_a_file_share_reply(ws: Workspace) -> None:
    parent = ws.post_message("C0DISPUTES", text="D-1")
    msg = ws.share_file(
        "C0DISPUTES", "U0AGENT", "box.png", b"png", "image/png", thread_ts=parent.ts, text="see"
    )
    out = msg.to_slack(ws)
    assert (out["subtype"], out["upload"], out["text"]) == ("file_share", True, "see")
    assert out["thread_ts"] == parent.ts
    assert [f["name"] for f in out["files"]] == ["box.png"]
    assert out["files"][0]["is_public"] is True  # shared in a public channel
    assert parent.to_slack(ws)["reply_count"] == 1
    assert [m.ts for m in ws.thread("C0DISPUTES", parent.ts)] == [parent.ts, msg.ts]
    assert "Ana Agent: see [file: box.png]" in render_transcript(ws)


def test_share_file_keeps_nothing_for_a_missing_thread(ws: Workspace) -> None:
    with pytest.raises(SlackError, match="thread_not_found"):
        ws.share_file("C0DISPUTES", "U0AGENT", "a.txt", b"x", thread_ts="1.000001")
    with pytest.raises(SlackError, match="channel_not_found"):
        ws.share_file("#nowhere", "U0AGENT", "a.txt", b"x")
    assert ws.files == {}


def test_a_message_with_an_unknown_file_is_refused(ws: Workspace) -> None:
    with pytest.raises(SlackError, match="file_not_found"):
        ws.post_message("C0DISPUTES", text="x", user="U0AGENT", files=["F0NOPE"])
    assert ws.history("C0DISPUTES") == []


def test_a_plain_message_has_no_file_fields(ws: Workspace) -> None:
    out = ws.post_message("C0DISPUTES", text="hi", user="U0AGENT").to_slack(ws)
    assert not {"files", "upload", "subtype"} & set(out)
