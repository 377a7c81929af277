"""Copying a modal's files into the thread against the emulator: the bot token goes to the
configured Slack host (here the sandbox) and the copies arrive; a file object naming any other
host is not read, and the token never leaves."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from handlers.files import FileShareError, share_files
from sandbox.slack.workspace import Workspace
from tests.support.emulator import PNG


async def test_files_on_the_configured_slack_host_are_copied(
    ws: Workspace, client: AsyncWebClient
) -> None:
    await client.conversations_join(channel="C0DISPUTES")
    original = ws.add_file("lid.png", PNG, user="U0AGENT", mimetype="image/png")
    thread = ws.post_message("C0DISPUTES", text="D-1")
    copies = await share_files(
        client,
        [original.to_slack(ws.base_url)],
        channel="C0DISPUTES",
        thread_ts=thread.ts,
        comment="Evidence",
    )
    assert [copy["name"] for copy in copies] == ["lid.png"]
    assert copies[0]["id"] != original.id


@pytest.mark.parametrize(
    "url",
    [
        "https://collector.example/files-pri/T0SANDBOX-F1/lid.png",
        "http://127.0.0.1:9/files-pri/T0SANDBOX-F1/lid.png",
    ],
)
async def test_a_file_naming_another_host_is_not_read(
    ws: Workspace, client: AsyncWebClient, url: str
) -> None:
    original = ws.add_file("lid.png", PNG, user="U0AGENT", mimetype="image/png")
    file = {**original.to_slack(ws.base_url), "url_private_download": url}
    with pytest.raises(FileShareError, match="not on Slack's file host"):
        await share_files(client, [file], channel="C0DISPUTES", thread_ts="1.1", comment="c")
    assert ws.calls_to("files.getUploadURLExternal") == []
