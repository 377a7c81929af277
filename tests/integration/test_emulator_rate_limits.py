"""Slack's rate limits in the emulator, over real HTTP: 429s per channel for chat.postMessage and
per method for the rest, with Retry-After and Slack's body; off unless asked for; switched over
HTTP too. Then the app's limited client against them: it waits the 429s out, per channel."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack_client import LimitedWebClient, RateLimitGaveUp, retry_after
from handlers.slack_limits import RateGate
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import SlackLimits, Workspace
from tests.support.emulator import TOKEN, FakeClock

DISPUTES, SUPERVISORS = "C0DISPUTES", "C0SUPERVISORS"


@pytest.fixture
def joined(ws: Workspace) -> Workspace:
    ws.join(DISPUTES, "U0BOT")
    ws.join(SUPERVISORS, "U0BOT")
    return ws


async def refused(call: object) -> tuple[int, str, dict]:
    """The status, Retry-After and body of a call that must be refused."""
    with pytest.raises(SlackApiError) as exc:
        await call  # type: ignore[misc]
    response = exc.value.response
    return response.status_code, response.headers.get("retry-after"), response.data


async def test_posts_are_limited_per_channel_with_retry_after(
    joined: Workspace, client: AsyncWebClient, clock: FakeClock
) -> None:
    joined.set_limits(SlackLimits(posts_per_second=1.0, post_burst=3))
    for n in range(3):  # a short burst goes through
        await client.chat_postMessage(channel=DISPUTES, text=f"burst {n}")
    status, wait, body = await refused(client.chat_postMessage(channel=DISPUTES, text="one more"))
    assert (status, wait, body) == (429, "1", {"ok": False, "error": "ratelimited"})
    # Another channel has its own budget; the refused call was not posted.
    assert (await client.chat_postMessage(channel=SUPERVISORS, text="elsewhere"))["ok"]
    assert [m.text for m in joined.history(DISPUTES)] == [f"burst {n}" for n in range(3)]
    clock.now += 1.0
    assert (await client.chat_postMessage(channel=DISPUTES, text="a second later"))["ok"]
    counts = joined.rate_limits.counts()
    assert counts["refused"] == [{"method": "chat.postMessage", "channel": DISPUTES, "count": 1}]


async def test_other_methods_are_limited_per_method_by_their_tier(
    joined: Workspace, client: AsyncWebClient, clock: FakeClock
) -> None:
    posted = await client.chat_postMessage(channel=DISPUTES, text="to edit")
    joined.set_limits(SlackLimits.slack(scale=10))  # chat.update: 50 a minute, here 50 in 6 s
    for n in range(50):
        await client.chat_update(channel=DISPUTES, ts=posted["ts"], text=f"edit {n}")
    clock.now += 2.0
    status, wait, body = await refused(
        client.chat_update(channel=DISPUTES, ts=posted["ts"], text="too many")
    )
    assert (status, wait, body["error"]) == (429, "4", "ratelimited")
    # Tier 4 users.info is its own method; postMessage is limited by channel, not by update.
    assert (await client.users_info(user="U0AGENT"))["ok"]
    assert (await client.chat_postMessage(channel=DISPUTES, text="a post"))["ok"]
    clock.now += 4.0
    assert (await client.chat_update(channel=DISPUTES, ts=posted["ts"], text="later"))["ok"]
    assert joined.message(DISPUTES, posted["ts"]).text == "later"


async def test_limits_are_off_unless_asked_for(joined: Workspace, client: AsyncWebClient) -> None:
    for n in range(30):
        await client.chat_postMessage(channel=DISPUTES, text=f"message {n}")
    joined.set_limits(SlackLimits())
    joined.set_limits(None)
    for n in range(5):
        await client.chat_postMessage(channel=DISPUTES, text=f"again {n}")
    assert joined.rate_limits.counts()["refused"] == []


async def test_limits_are_switched_over_http(joined: Workspace, http: httpx.AsyncClient) -> None:
    turned = await http.post("/_sandbox/limits", json={"scale": 10, "post_burst": 1})
    assert turned.status_code == 200
    assert turned.json()["limits"]["scale"] == 10 and turned.json()["limits"]["post_burst"] == 1
    assert joined.rate_limits.limits == SlackLimits(scale=10, post_burst=1)
    not_json = await http.post("/_sandbox/limits", content=b"off=true")
    assert not_json.status_code == 415
    off = await http.post("/_sandbox/limits", json={"off": True})
    assert off.json()["limits"] is None and joined.rate_limits.limits is None


async def test_the_limited_client_waits_out_429s_per_channel() -> None:
    """On the real clock: a busy channel's posts queue behind its Retry-After, the other
    channel's go at once, and every post is made exactly once."""
    joined = Workspace.default()
    joined.join(DISPUTES, "U0BOT")
    joined.join(SUPERVISORS, "U0BOT")
    joined.set_limits(SlackLimits(posts_per_second=4.0, post_burst=2))
    async with (
        EmulatorServer(joined) as server,
        LimitedWebClient(
            gate=RateGate(retry_after, max_wait=20), token=TOKEN, base_url=server.api_url
        ) as client,
    ):
        started = time.monotonic()

        async def post(channel: str, n: int) -> float:
            await client.chat_postMessage(channel=channel, text=f"{channel} {n}")
            return time.monotonic() - started

        busy = [asyncio.create_task(post(DISPUTES, n)) for n in range(8)]
        await asyncio.sleep(0.3)  # the busy channel is paused by now
        quiet = await asyncio.gather(post(SUPERVISORS, 0), post(SUPERVISORS, 1))
        done = await asyncio.gather(*busy)
    assert max(quiet) < 1.0 < max(done)  # the quiet channel did not wait for the pause
    assert sorted(m.text for m in joined.history(DISPUTES)) == [f"{DISPUTES} {n}" for n in range(8)]
    refused_posts = joined.rate_limits.refused[("chat.postMessage", DISPUTES)]
    assert refused_posts >= 1 and joined.rate_limits.refused[("chat.postMessage", SUPERVISORS)] == 0
    counted = client.counters.snapshot()
    assert counted["ratelimited"]["chat.postMessage"] == refused_posts
    assert counted["gave_up"] == {}


async def test_the_limited_client_gives_up_as_slack_would_refuse(
    joined: Workspace, client: AsyncWebClient
) -> None:
    joined.arm_ratelimit("chat.update", retry_after=30)
    posted = await client.chat_postMessage(channel=DISPUTES, text="to edit")
    server_url = str(client.base_url)
    limited = LimitedWebClient(
        gate=RateGate(retry_after, max_wait=5), token=TOKEN, base_url=server_url
    )
    async with limited:
        with pytest.raises(RateLimitGaveUp) as exc:
            await limited.chat_update(channel=DISPUTES, ts=posted["ts"], text="edit")
    assert exc.value.response.status_code == 429
    assert exc.value.response.data["error"] == "ratelimited"
    assert len(joined.calls_to("chat.update")) == 0  # the 429 was not acted on, nor sent again
    assert limited.counters.gave_up["chat.update"] == 1


async def test_the_limited_client_waits_out_a_methods_tier_and_holds_back_no_other() -> None:
    """On the real clock: chat.update over its tier waits; posts and other calls go on."""
    workspace = Workspace.default()
    workspace.join(DISPUTES, "U0BOT")
    async with (
        EmulatorServer(workspace) as server,
        LimitedWebClient(
            gate=RateGate(retry_after, max_wait=20), token=TOKEN, base_url=server.api_url
        ) as client,
    ):
        posted = await client.chat_postMessage(channel=DISPUTES, text="to edit")
        # chat.update: 5 a minute, thirty times faster: 5 in any 2 s.
        workspace.set_limits(SlackLimits(per_minute={"chat.update": 5}, scale=30))
        started = time.monotonic()

        async def update(n: int) -> float:
            await client.chat_update(channel=DISPUTES, ts=posted["ts"], text=f"edit {n}")
            return time.monotonic() - started

        updates = [asyncio.create_task(update(n)) for n in range(8)]
        await asyncio.sleep(0.3)
        await client.chat_postMessage(channel=DISPUTES, text="meanwhile")
        await client.users_info(user="U0AGENT")
        others = time.monotonic() - started
        done = await asyncio.gather(*updates)
    assert others < 1.0 < max(done)
    assert len(workspace.calls_to("chat.update")) == 8  # each edit made once
    assert workspace.rate_limits.refused[("chat.update", None)] >= 1
    assert client.counters.ratelimited["chat.update"] >= 1
