"""Modals and the Home tab over the Web API: trigger_id rules, validation, updates by hash,
stacked modals, publishing Home."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack.workspace import Workspace
from tests.support.emulator import FakeClock, header, modal, slack_error


async def test_a_trigger_opens_one_modal_within_three_seconds(
    ws: Workspace, client: AsyncWebClient, clock: FakeClock
) -> None:
    unknown = await slack_error(client.views_open(trigger_id="1.2.3", view=modal()))
    assert unknown["error"] == "invalid_trigger_id"
    trigger = ws.mint_trigger("U0MANAGER1")
    opened = await client.views_open(trigger_id=trigger, view=modal(callback_id="resolve"))
    assert opened["view"]["id"].startswith("V")
    assert opened["view"]["callback_id"] == "resolve"
    assert opened["view"]["hash"]
    again = await slack_error(client.views_open(trigger_id=trigger, view=modal()))
    assert again["error"] == "exchanged_trigger_id"
    late = ws.mint_trigger("U0MANAGER1")
    clock.now += 3.5
    expired = await slack_error(client.views_open(trigger_id=late, view=modal()))
    assert expired["error"] == "expired_trigger_id"


async def test_a_malformed_modal_is_refused_with_a_pointer_to_the_field(
    ws: Workspace, client: AsyncWebClient
) -> None:
    invalid = await slack_error(
        client.views_open(trigger_id=ws.mint_trigger("U0AGENT"), view=modal("t" * 25))
    )
    assert invalid["error"] == "invalid_arguments"
    assert invalid["response_metadata"]["messages"][0].endswith("[json-pointer:/title/text]")


async def test_a_modal_updates_by_hash_or_external_id_and_another_stacks_on_it(
    ws: Workspace, client: AsyncWebClient
) -> None:
    opened = (
        await client.views_open(
            trigger_id=ws.mint_trigger("U0MANAGER1"), view=modal(external_id="d-1")
        )
    )["view"]
    by_id = await client.views_update(
        view_id=opened["id"], hash=opened["hash"], view=modal("Step 2", external_id="d-1")
    )
    assert by_id["view"]["title"]["text"] == "Step 2"
    conflict = await slack_error(
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())
    )
    assert conflict["error"] == "hash_conflict"
    by_ext = await client.views_update(external_id="d-1", view=modal("Step 3", external_id="d-1"))
    assert by_ext["view"]["id"] == opened["id"]
    missing = await slack_error(client.views_update(view_id="V404", view=modal()))
    assert missing["error"] == "not_found"
    pushed = await client.views_push(
        trigger_id=ws.mint_trigger("U0MANAGER1", view_id=opened["id"]), view=modal("Confirm")
    )
    assert pushed["view"]["previous_view_id"] == opened["id"]
    assert pushed["view"]["root_view_id"] == opened["id"]


async def test_a_home_tab_is_published_per_person_up_to_100_blocks(
    ws: Workspace, client: AsyncWebClient
) -> None:
    home = {"type": "home", "blocks": [header("Queue")]}
    resp = await client.views_publish(user_id="U0MANAGER1", view=home)
    assert resp["view"]["type"] == "home"
    assert ws.home_views["U0MANAGER1"].view["blocks"] == [header("Queue")]
    too_big = {"type": "home", "blocks": [{"type": "divider"}] * 101}
    refused = await slack_error(client.views_publish(user_id="U0MANAGER1", view=too_big))
    assert refused["error"] == "invalid_arguments"
    assert "no more than 100" in refused["response_metadata"]["messages"][0]
