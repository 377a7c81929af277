"""Who and where over the Web API: channels, people, user groups and each person's DM with the
bot."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack.workspace import SlackError, Workspace
from tests.support.emulator import slack_error


async def test_channels_are_described_and_listed_page_by_page(client: AsyncWebClient) -> None:
    info = await client.conversations_info(channel="C0SUPERVISORS")
    assert info["channel"]["name"] == "dispute-supervisors"
    assert info["channel"]["is_member"] is False
    assert (await slack_error(client.conversations_info(channel="C0NOPE")))["error"] == (
        "channel_not_found"
    )
    listed = await client.conversations_list(types="public_channel,private_channel")
    assert {c["id"] for c in listed["channels"]} == {"C0DISPUTES", "C0SUPERVISORS"}
    first = await client.conversations_list(limit=1)
    cursor = first["response_metadata"]["next_cursor"]
    second = await client.conversations_list(limit=1, cursor=cursor)
    assert first["channels"][0]["id"] != second["channels"][0]["id"]
    assert second["response_metadata"]["next_cursor"] == ""
    assert (await client.conversations_list(types="private_channel"))["channels"] == []


async def test_a_person_is_described_with_their_timezone(client: AsyncWebClient) -> None:
    user = (await client.users_info(user="U0MANAGER1"))["user"]
    assert user["real_name"] == "Max Manager"
    assert user["tz"] == "America/New_York"
    assert isinstance(user["tz_offset"], int)
    assert user["profile"]["real_name"] == "Max Manager"
    assert (await slack_error(client.users_info(user="U0GHOST")))["error"] == "user_not_found"


async def test_history_is_only_for_members(client: AsyncWebClient) -> None:
    denied = await slack_error(client.conversations_history(channel="C0SUPERVISORS"))
    assert denied["error"] == "not_in_channel"


async def test_a_user_group_lists_each_member_once(ws: Workspace, client: AsyncWebClient) -> None:
    default = await client.usergroups_users_list(usergroup="S0MANAGERS")
    assert default["users"] == ["U0MANAGER1", "U0MANAGER2"]
    ws.add_usergroup("S0SUPERS", "supervisors", ["U0SUPER", "U0SUPER"])
    assert (await client.usergroups_users_list(usergroup="S0SUPERS"))["users"] == ["U0SUPER"]
    ws.add_usergroup("S0SUPERS", "supervisors", [])
    assert (await client.usergroups_users_list(usergroup="S0SUPERS"))["users"] == []
    unknown = await slack_error(client.usergroups_users_list(usergroup="S0NOPE"))
    assert unknown["error"] == "no_such_subteam"
    missing = await slack_error(client.api_call("usergroups.users.list", params={}))
    assert missing["error"] == "invalid_arguments"
    assert ws.calls_to("usergroups.users.list")[0] == {"usergroup": "S0MANAGERS"}
    with pytest.raises(SlackError, match="user_not_found"):
        ws.add_usergroup("S0GHOSTS", "ghosts", ["U0GHOST"])


async def test_each_person_has_one_dm_with_the_bot_kept_out_of_channel_lists(
    ws: Workspace, client: AsyncWebClient
) -> None:
    info = (await client.conversations_info(channel="D0AGENT"))["channel"]
    assert info["id"] == "D0AGENT" and info["is_im"] is True and info["user"] == "U0AGENT"
    assert ws.dm_channel("U0AGENT").id == "D0AGENT"  # the same one, created once
    # Posting to a person's id lands in their DM, as on Slack.
    posted = await client.chat_postMessage(channel="U0AGENT", text="your dispute moved")
    assert posted["channel"] == "D0AGENT"
    history = await client.conversations_history(channel="D0AGENT")
    assert [m["text"] for m in history["messages"]] == ["your dispute moved"]
    # DMs stay out of the channel list unless asked for; nobody joins one.
    listed = await client.conversations_list(types="public_channel,private_channel")
    assert {c["id"] for c in listed["channels"]} == {"C0DISPUTES", "C0SUPERVISORS"}
    ims = await client.conversations_list(types="im")
    assert [c["id"] for c in ims["channels"]] == ["D0AGENT"]
    joined = await slack_error(client.conversations_join(channel="D0AGENT"))
    assert joined["error"] == "method_not_supported_for_channel_type"
    assert (await slack_error(client.conversations_info(channel="D0GHOST")))["error"] == (
        "channel_not_found"
    )
