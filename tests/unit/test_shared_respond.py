"""The app's `respond` sends what Bolt's own would: the same arguments, the same message."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import SectionBlock

from handlers.slack_client import LimitedWebClient, SharedRespond, retry_after
from handlers.slack_limits import RateGate


class Sent:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def send_dict(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


async def test_it_takes_bolts_arguments_and_builds_bolts_message() -> None:
    client = LimitedWebClient(gate=RateGate(retry_after, max_wait=1), token="xoxb-1")
    sent = Sent()
    client.webhook = lambda _url: sent  # type: ignore[method-assign,assignment,return-value]
    respond = SharedRespond("https://hooks.slack.com/commands/T1/1/x", client)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "<!channel> hi"}}

    await respond("one", [SectionBlock(text={"type": "mrkdwn", "text": "<!channel> hi"})])
    await respond(text="two", blocks=[], response_type="ephemeral", replace_original=False)
    await respond({"text": "three", "delete_original": True})
    assert sent.messages == [
        {"text": "one", "blocks": [section]},
        {"text": "two", "response_type": "ephemeral", "replace_original": False},
        {"text": "three", "delete_original": True},
    ]
