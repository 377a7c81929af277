"""What the driver sends the app, as Slack sends it: signed slash commands, clicks, modal
submissions and events with their retries."""

from __future__ import annotations

import json
import time

import httpx

from sandbox.slack.driver import SlackDriver
from sandbox.slack.workspace import Workspace
from tests.support.emulator import Receiver


async def test_a_slash_command_arrives_signed_with_every_field_slack_sends(
    driver: SlackDriver, receiver: Receiver, ws: Workspace, http: httpx.AsyncClient
) -> None:
    resp = await driver.command("open ORD-1001 damaged")
    assert resp.status_code == 200
    assert receiver.requests[0]["valid"] is True
    assert receiver.requests[0]["headers"]["content-type"] == "application/x-www-form-urlencoded"
    form = receiver.form()
    expected = {
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name",
        "command", "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id",
    }  # fmt: skip
    assert expected <= set(form)
    assert form["command"] == "/dispute"
    assert form["text"] == "open ORD-1001 damaged"
    assert (form["channel_id"], form["channel_name"]) == ("C0DISPUTES", "disputes")
    assert ws.use_trigger(form["trigger_id"]).user == "U0MANAGER1"
    # The response_url points back at the emulator and works.
    answered = await http.post(form["response_url"], json={"text": "Opening D-1"})
    assert answered.json() == {"ok": True}
    assert ws.ephemerals_for("U0MANAGER1")[0].text == "Opening D-1"


async def test_a_wrong_secret_or_a_stale_timestamp_fails_verification(
    driver: SlackDriver, receiver: Receiver
) -> None:
    wrong = await driver.send(b"{}", "application/json", secret="not-the-secret")
    stale = await driver.send(b"{}", "application/json", timestamp=int(time.time()) - 600)
    fine = await driver.send(b"{}", "application/json")
    assert (wrong.status_code, stale.status_code, fine.status_code) == (401, 401, 200)
    assert [r["valid"] for r in receiver.requests] == [False, False, True]


async def test_a_click_on_a_message_button_arrives_as_block_actions(
    driver: SlackDriver, receiver: Receiver, ws: Workspace
) -> None:
    card = ws.post_message(
        "C0DISPUTES",
        text="card",
        blocks=[
            {
                "type": "actions",
                "block_id": "review",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "approve",
                        "value": '{"d":"D-1"}',
                        "style": "primary",
                        "text": {"type": "plain_text", "text": "Approve"},
                    }
                ],
            }
        ],
    )
    await driver.block_action("approve", user="U0MANAGER2")
    payload = receiver.payload()
    assert receiver.requests[-1]["valid"] is True
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U0MANAGER2"
    assert payload["container"] == {
        "type": "message",
        "message_ts": card.ts,
        "channel_id": "C0DISPUTES",
        "is_ephemeral": False,
    }
    assert payload["message"]["ts"] == card.ts
    assert payload["actions"][0]["value"] == '{"d":"D-1"}'
    assert payload["actions"][0]["block_id"] == "review"
    assert payload["response_url"].startswith(driver.emulator_url + "/_sandbox/response/")
    assert payload["trigger_id"] in ws.triggers


async def test_a_submitted_modal_arrives_with_its_values_and_closes(
    driver: SlackDriver, receiver: Receiver, ws: Workspace
) -> None:
    view = ws.open_view(
        ws.mint_trigger("U0MANAGER1"),
        {
            "type": "modal",
            "callback_id": "resolve",
            "title": {"type": "plain_text", "text": "Resolve"},
            "submit": {"type": "plain_text", "text": "Go"},
            "blocks": [
                {
                    "type": "input",
                    "block_id": "amount",
                    "label": {"type": "plain_text", "text": "Amount"},
                    "element": {
                        "type": "number_input",
                        "action_id": "v",
                        "is_decimal_allowed": True,
                    },
                },
                {
                    "type": "input",
                    "block_id": "option",
                    "label": {"type": "plain_text", "text": "Option"},
                    "element": {
                        "type": "radio_buttons",
                        "action_id": "v",
                        "options": [
                            {"text": {"type": "plain_text", "text": "Full"}, "value": "full"}
                        ],
                    },
                },
            ],
        },
    )
    await driver.view_submission({"amount": {"v": "12.50"}, "option": {"v": "full"}})
    payload = receiver.payload()
    assert payload["type"] == "view_submission"
    assert payload["view"]["id"] == view.id
    assert payload["view"]["callback_id"] == "resolve"
    values = payload["view"]["state"]["values"]
    assert values["amount"]["v"] == {"type": "number_input", "value": "12.50"}
    assert values["option"]["v"]["selected_option"]["value"] == "full"
    assert ws.top_view("U0MANAGER1") is None


async def test_an_event_and_its_retry_arrive_with_slacks_retry_headers(
    driver: SlackDriver, receiver: Receiver
) -> None:
    event = {"type": "message", "channel": "C0DISPUTES", "user": "U0AGENT", "text": "hi"}
    await driver.event(event, event_id="Ev123")
    await driver.event(event, event_id="Ev123", retry_num=1)
    first, retry = receiver.requests
    assert first["valid"] and retry["valid"]
    body = json.loads(first["body"])
    assert body["type"] == "event_callback"
    assert body["event_id"] == "Ev123"
    assert body["event"]["text"] == "hi"
    assert "x-slack-retry-num" not in first["headers"]
    assert retry["headers"]["x-slack-retry-num"] == "1"
    assert retry["headers"]["x-slack-retry-reason"] == "http_timeout"
