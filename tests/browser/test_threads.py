"""A team lead in the browser: permalinks open their thread, people talk in channels and
threads, hostile text stays text, and the app's emoji show as pictures."""

from __future__ import annotations

import time
from typing import Any

from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from tests.browser.conftest import ARTIFACTS

HOSTILE = [
    ("<script>window.__pwned = 1</script>", "<script>window.__pwned = 1</script>"),
    ("&lt;script&gt;window.__pwned = 2&lt;/script&gt;", "<script>window.__pwned = 2</script>"),
    ("say &lt;!channel&gt; to ping", "say <!channel> to ping"),
    ("ping <!channel> now", "ping @channel now"),
    ("entity &amp;lt; stays", "entity &lt; stays"),
    ('&lt;img src=x onerror="window.__pwned = 3"&gt;', '<img src=x onerror="window.__pwned = 3">'),
]


def _wait(check: Any, what: str, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return found


def test_the_open_the_thread_link_opens_the_thread_with_and_without_javascript(
    page: Any, chromium: Any, emulator: EmulatorServer
) -> None:
    composer = page.get_by_label("Message")
    composer.fill("/dispute open ORD-1007 damaged the handle snapped")
    composer.press("Enter")
    link = page.locator("#messages .ephemeral").get_by_role("link", name="Open the thread")
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state()
    assert "/archives/C0DISPUTES/p" in tab.url
    panel = tab.locator("#thread-panel")
    panel.get_by_text("Evidence · ").first.wait_for()
    assert panel.is_visible() and "ORD-1007" in panel.inner_text()
    assert tab.locator("#thread-messages .msg.linked").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "permalink.png"))

    # The same link with JavaScript off: the thread is in the HTML itself.
    plain = chromium.new_context(java_script_enabled=False)
    try:
        bare = plain.new_page()
        bare.goto(tab.url)
        thread = bare.locator("#thread-messages")
        assert "ORD-1007" in thread.inner_text() and "Evidence · " in thread.inner_text()
        assert bare.locator("#thread-panel").is_visible()
    finally:
        plain.close()


def test_a_reply_typed_in_a_thread_and_a_plain_channel_message_are_posted_as_the_person(
    page: Any, emulator: EmulatorServer
) -> None:
    ws: Workspace = emulator.workspace
    composer = page.get_by_label("Message")
    composer.fill("/dispute open ORD-1011 damaged the screen is cracked")
    composer.press("Enter")
    parent = page.locator("#messages .msg.has-replies", has_text="ORD-1011")
    parent.get_by_role("button", name="replies").click()
    thread = page.locator("#thread-messages")
    thread.get_by_text("Evidence · ").first.wait_for()

    reply = page.get_by_label("Reply")
    reply.fill("I'll call the courier <today> & report back")
    reply.press("Enter")
    mine = thread.locator(".msg", has_text="I'll call the courier <today> & report back")
    mine.wait_for()
    assert "Max Manager" in mine.inner_text()
    root = next(m for m in ws.history("C0DISPUTES") if "ORD-1011" in m.text)
    last = ws.thread("C0DISPUTES", root.ts)[-1]
    assert (last.user, last.text) == (
        "U0MANAGER1",
        "I'll call the courier &lt;today&gt; &amp; report back",
    )

    composer.fill("standup in five minutes")
    composer.press("Enter")
    said = page.locator("#messages .msg", has_text="standup in five minutes")
    said.wait_for()
    assert "Max Manager" in said.inner_text() and "failed" not in said.inner_text()
    _wait(
        lambda: ws.history("C0DISPUTES")[-1].text == "standup in five minutes",
        "the channel message was not stored",
    )
    assert ws.history("C0DISPUTES")[-1].user == "U0MANAGER1"


def test_hostile_text_is_shown_as_text_and_emoji_as_pictures(
    page: Any, emulator: EmulatorServer
) -> None:
    ws: Workspace = emulator.workspace
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for n, (stored, _) in enumerate(HOSTILE):
        ws.post_message(
            "C0SUPERVISORS",
            text=stored,
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": f"h{n}: {stored}"}}],
        )
    ws.post_message("C0SUPERVISORS", text=":warning: late :white_check_mark: done :made_up:")
    page.locator("#channels").get_by_role("link", name="dispute-supervisors").click()
    messages = page.locator("#messages")
    messages.get_by_text(":made_up:").wait_for()
    shown = messages.inner_text()
    for n, (_, seen) in enumerate(HOSTILE):
        assert f"h{n}: {seen}" in shown, (n, seen, shown)
    assert messages.locator(".mention", has_text="@channel").count() == 1
    assert page.evaluate("window.__pwned") is None and dialogs == []

    # The message's own two emoji (the app may have posted to this channel too).
    pictures = messages.locator(".msg", has_text=":made_up:").locator("img.emoji")
    assert pictures.count() == 2
    assert ":warning:" not in shown and ":white_check_mark:" not in shown
    _wait(
        lambda: page.evaluate(
            "[...document.querySelectorAll('#messages img.emoji')]"
            ".every((i) => i.complete && i.naturalWidth > 0)"
        ),
        "the emoji pictures did not load",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "hostile-and-emoji.png"))
