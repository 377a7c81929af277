"""How the sandbox page writes Slack text: entities decoded once, never markup from a message,
control sequences as links and mentions, the app's emoji as pictures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sandbox.page.emoji import emoji_svg, known_emoji
from sandbox.page.render import mrkdwn_html, plain_mrkdwn

BLOCKS = Path(__file__).resolve().parents[2] / "blocks"


@pytest.mark.parametrize(
    ("stored", "html"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("&lt;script&gt;", "&lt;script&gt;"),
        ("&lt;!channel&gt;", "&lt;!channel&gt;"),
        ("<!channel>", '<span class="mention">@channel</span>'),
        ("&amp;lt;", "&amp;lt;"),
        ("a &amp; b", "a &amp; b"),
        ("*bold &lt;b&gt;*", "<b>bold &lt;b&gt;</b>"),
        ("`&lt;code&gt;`", "<code>&lt;code&gt;</code>"),
        (
            "<https://x.example/?a=1&amp;b=2|one &amp; two>",
            '<a href="https://x.example/?a=1&amp;b=2">one &amp; two</a>',
        ),
        ("<javascript:alert(1)|click>", "&lt;javascript:alert(1)|click&gt;"),
        (
            "<@U0AGENT> in <#C0DISPUTES>",
            '<span class="mention">@Ana</span> in <span class="mention">#disputes</span>',
        ),
        ("<!subteam^S0MANAGERS|@managers>", '<span class="mention">@managers</span>'),
    ],
)
def test_mrkdwn_decodes_slacks_entities_once_and_escapes_the_rest(stored: str, html: str) -> None:
    rendered = str(mrkdwn_html(stored, {"U0AGENT": "Ana"}, {"C0DISPUTES": "disputes"}))
    assert rendered == html


def test_plain_text_decodes_entities_once() -> None:
    assert plain_mrkdwn("&lt;!channel&gt; <!here> &amp;lt; <@U1>", {"U1": "Ana"}) == (
        "<!channel> @here &lt; @Ana"
    )


def test_every_emoji_the_apps_messages_use_has_a_picture() -> None:
    used = {
        name
        for path in BLOCKS.rglob("*.py")
        for name in re.findall(r":([a-z][a-z0-9_+-]*):", path.read_text())
    }
    assert used, "no emoji found in blocks/: has the layout changed?"
    assert sorted(used - set(known_emoji())) == []
    for name in used:
        svg = emoji_svg(name)
        assert svg is not None and svg.startswith("<svg") and "<script" not in svg


def test_emoji_show_as_pictures_and_unknown_names_stay_as_text() -> None:
    html = str(mrkdwn_html(":warning: :made_up_name: 10:30:45 `:warning:`"))
    assert html.startswith('<img class="emoji" src="/_sandbox/emoji/warning.svg" alt=":warning:"')
    assert ":made_up_name: 10:30:45 <code>:warning:</code>" in html
