"""Events: App Home is published, and Slack's retries of an event are processed once."""

from __future__ import annotations

import json

from sandbox.blockkit import validate_view
from sandbox.driver import SlackDriver
from sandbox.workspace import Workspace
from tests.e2e.conftest import eventually

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
