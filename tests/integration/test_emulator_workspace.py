"""The workspace page as a team uses it, over real HTTP: permalinks open their thread (in the
HTML itself), people talk in channels and threads (the app hears it as Slack tells it), Slack's
escaped text shows once-decoded and never as markup, and emoji show as pictures."""

from __future__ import annotations

import json
import re

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Message, Workspace
from tests.support.emulator import Receiver

# (what the app or a person's Slack client stored, what a reader must see)
HOSTILE = [
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ("&lt;script&gt;alert(2)&lt;/script&gt;", "<script>alert(2)</script>"),
    ("say &lt;!channel&gt; to ping", "say <!channel> to ping"),
    ("ping <!channel> now", "ping @channel now"),
    ("entity &amp;lt; stays", "entity &lt; stays"),
    ('<img src=x onerror="alert(3)">', '<img src=x onerror="alert(3)">'),
]


def _thread(ws: Workspace) -> tuple[Message, Message]:
    ws.join("C0DISPUTES", "U0BOT")
    parent = ws.post_message("C0DISPUTES", text="D-9 · ORD-1009 · opened")
    reply = ws.post_message(
        "C0DISPUTES", text="Evidence card for D-9", thread_ts=parent.ts, user="U0AGENT"
    )
    return parent, reply


def _panel(html: str) -> str:
    """The thread panel of the page's HTML (empty when the panel is hidden)."""
    found = re.search(
        r'<section id="thread-panel"(?P<attrs>[^>]*)>(?P<body>.*?)</section>', html, re.S
    )
    assert found, html
    return "" if "hidden" in found["attrs"] else found["body"]


def _initial_state(html: str) -> dict:
    found = re.search(r'id="initial-state" type="application/json">(.*?)</script>', html)
    assert found, html
    return json.loads(found[1])


def _text(html: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities decoded once."""
    without_tags = re.sub(r"<[^>]+>", "", html)
    return (
        without_tags.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", '"')
        .replace("&#39;", "'")
        .replace("&quot;", '"')
        .replace("&amp;", "&")
    )


async def test_a_permalink_opens_its_channel_with_the_thread_in_the_html(
    ws: Workspace, client: AsyncWebClient, http: httpx.AsyncClient
) -> None:
    parent, reply = _thread(ws)
    ws.post_message("C0SUPERVISORS", text="elsewhere")
    for ts in (parent.ts, reply.ts):
        link = (await client.chat_getPermalink(channel="C0DISPUTES", message_ts=ts))["permalink"]
        assert link.startswith(f"{ws.base_url}/archives/C0DISPUTES/p")
        page = await http.get(link)
        assert page.status_code == 200, link
        assert page.headers["content-type"].startswith("text/html")
        panel = _panel(page.text)
        assert "D-9 · ORD-1009 · opened" in panel and "Evidence card for D-9" in panel
        assert f'class="msg linked" data-ts="{ts}"' in panel
        assert "#disputes" in page.text and "elsewhere" not in page.text
        state = _initial_state(page.text)
        assert (state["channel"], state["thread"]["ts"], state["linked"]) == (
            "C0DISPUTES",
            parent.ts,
            ts,
        )
    # The plain page keeps its thread closed.
    assert _panel((await http.get("/")).text) == ""


async def test_unknown_channels_and_messages_get_a_404_page(
    ws: Workspace, http: httpx.AsyncClient
) -> None:
    parent, _ = _thread(ws)
    ws.post_message(ws.dm_channel("U0AGENT").id, text="for Ana only")
    ana_dm = ws.history(ws.dm_channel("U0AGENT").id)[0]
    digits = parent.ts.replace(".", "")
    for path in (
        f"/archives/C0NOPE/p{digits}",
        "/archives/C0DISPUTES/p1700000000000001",
        "/archives/C0DISPUTES/pnot-a-ts",
        "/archives/C0DISPUTES/p1",
        f"/archives/{ana_dm.channel}/p{ana_dm.ts.replace('.', '')}?user=U0MANAGER1",
    ):
        page = await http.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>Not found</h1>" in page.text and "Traceback" not in page.text
    mine = await http.get(f"/archives/{ana_dm.channel}/p{ana_dm.ts.replace('.', '')}?user=U0AGENT")
    assert mine.status_code == 200 and "for Ana only" in _panel(mine.text)


async def test_a_message_typed_on_the_page_is_the_persons_and_reaches_the_app_as_an_event(
    ws: Workspace,
    server: EmulatorServer,
    driver: SlackDriver,
    receiver: Receiver,
    http: httpx.AsyncClient,
) -> None:
    parent, _ = _thread(ws)
    server.attach_driver(driver)
    said = await http.post(
        "/_sandbox/ui/message",
        json={"user": "U0AGENT", "channel": "C0DISPUTES", "text": "on it <b> & more"},
    )
    assert said.json()["ok"] is True and said.json()["status"] == 200
    stored = ws.history("C0DISPUTES")[-1]
    assert (stored.user, stored.text, stored.bot_id) == (
        "U0AGENT",
        "on it &lt;b&gt; &amp; more",
        None,
    )
    envelope = json.loads(receiver.requests[-1]["body"])
    assert receiver.requests[-1]["valid"] is True
    assert receiver.requests[-1]["headers"]["content-type"] == "application/json"
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    event = envelope["event"]
    assert (event["type"], event["user"], event["channel"], event["channel_type"]) == (
        "message",
        "U0AGENT",
        "C0DISPUTES",
        "channel",
    )
    assert event["text"] == "on it &lt;b&gt; &amp; more" and event["ts"] == stored.ts
    assert "thread_ts" not in event and "subtype" not in event

    replied = await http.post(
        "/_sandbox/ui/message",
        json={
            "user": "U0SUPER",
            "channel": "C0DISPUTES",
            "text": "approved",
            "thread_ts": parent.ts,
        },
    )
    assert replied.json()["status"] == 200
    thread = ws.thread("C0DISPUTES", parent.ts)
    assert (thread[-1].user, thread[-1].text) == ("U0SUPER", "approved")
    event = json.loads(receiver.requests[-1]["body"])["event"]
    assert (event["thread_ts"], event["parent_user_id"], event["user"]) == (
        parent.ts,
        "U0BOT",
        "U0SUPER",
    )
    # Slack tells the app nothing of a channel its bot is not in.
    before = len(receiver.requests)
    quiet = await http.post(
        "/_sandbox/ui/message", json={"user": "U0SUPER", "channel": "C0SUPERVISORS", "text": "hm"}
    )
    assert quiet.json() == {
        "ok": True,
        "channel": "C0SUPERVISORS",
        "ts": ws.history("C0SUPERVISORS")[-1].ts,
        "status": None,
    }
    assert len(receiver.requests) == before


async def test_plain_text_is_never_a_command_and_empty_or_misplaced_messages_are_refused(
    ws: Workspace,
    server: EmulatorServer,
    driver: SlackDriver,
    receiver: Receiver,
    http: httpx.AsyncClient,
) -> None:
    parent, _ = _thread(ws)
    server.attach_driver(driver)
    version = ws.version
    plain = await http.post("/_sandbox/ui/command", json={"channel": "C0DISPUTES", "text": "help"})
    assert (plain.status_code, plain.json()["error"]) == (400, "not_a_command")
    empty = await http.post("/_sandbox/ui/message", json={"channel": "C0DISPUTES", "text": "  "})
    assert (empty.status_code, empty.json()["error"]) == (400, "no_text")
    nowhere = await http.post(
        "/_sandbox/ui/message",
        json={"channel": "C0DISPUTES", "text": "hi", "thread_ts": "1700000000.000009"},
    )
    assert (nowhere.status_code, nowhere.json()["error"]) == (400, "thread_not_found")
    outsider = await http.post(
        "/_sandbox/ui/message", json={"user": "U0AGENT", "channel": "C0SUPERVISORS", "text": "hi"}
    )
    assert (outsider.status_code, outsider.json()["error"]) == (400, "not_in_channel")
    elsewhere = await http.post(
        "/_sandbox/ui/message",
        json={"channel": "C0DISPUTES", "text": "hi"},
        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert (elsewhere.status_code, elsewhere.json()["error"]) == (403, "cross_site_request")
    assert receiver.requests == [] and ws.version == version
    assert len(ws.thread("C0DISPUTES", parent.ts)) == 2


async def test_hostile_text_shows_decoded_once_and_never_as_markup_in_the_plain_views(
    ws: Workspace, client: AsyncWebClient, http: httpx.AsyncClient
) -> None:
    parent, _ = _thread(ws)
    for n, (stored, _) in enumerate(HOSTILE):
        ws.post_message(
            "C0DISPUTES",
            text=stored,
            thread_ts=parent.ts,
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": f"block{n}: {stored}"}}],
        )
    link = (await client.chat_getPermalink(channel="C0DISPUTES", message_ts=parent.ts))["permalink"]
    for html in ((await http.get("/_sandbox/plain")).text, _panel((await http.get(link)).text)):
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&amp;lt;script" not in html and "&amp;lt;!channel" not in html
        seen = _text(html)
        for n, (_, shown) in enumerate(HOSTILE):
            assert f"block{n}: {shown}" in seen, (n, shown)
        assert '<span class="mention">@channel</span>' in html


async def test_emoji_show_as_the_pictures_the_page_ships_and_unknown_ones_as_text(
    ws: Workspace, http: httpx.AsyncClient
) -> None:
    ws.post_message("C0DISPUTES", text=":warning: late :white_check_mark: done :no_such_emoji:")
    html = (await http.get("/_sandbox/plain")).text
    assert ":no_such_emoji:" in html
    assert '<img class="emoji" src="/_sandbox/emoji/warning.svg" alt=":warning:"' in html
    assert '<img class="emoji" src="/_sandbox/emoji/white_check_mark.svg"' in html
    assert ":warning: late" not in html
    picture = await http.get("/_sandbox/emoji/warning.svg")
    assert picture.status_code == 200 and picture.headers["content-type"].startswith(
        "image/svg+xml"
    )
    assert picture.text.startswith("<svg") and "<script" not in picture.text
    assert (await http.get("/_sandbox/emoji/no_such_emoji.svg")).status_code == 404
