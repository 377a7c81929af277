"""The app's Web API client keeps one HTTP session for all its calls (one connection reused,
not one opened and closed per call), and closes it when the app stops; it never formats a
request for a debug line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings, load_settings
from bot.slack_wiring import slack_client


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


@pytest.fixture
async def web_api() -> AsyncIterator[tuple[str, list[object]]]:
    """A loopback Web API answering every method; the client address of each call."""
    peers: list[object] = []

    async def answer(request: web.Request) -> web.Response:
        assert request.transport is not None
        peers.append(request.transport.get_extra_info("peername"))
        return web.json_response({"ok": True, "channel": "C1", "ts": "1.000001"})

    app = web.Application()
    app.router.add_post("/api/{method}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/api/", peers
    finally:
        await runner.cleanup()


async def test_the_apps_client_reuses_one_connection_and_closes_it(
    web_api: tuple[str, list[object]],
) -> None:
    url, peers = web_api
    client = slack_client(load_settings(slack_bot_token="xoxb-1", slack_api_url=url))
    try:
        await client.auth_test()
        await client.chat_postMessage(channel="C1", text="one")
        await client.chat_update(channel="C1", ts="1.000001", text="two")
    finally:
        await client.aclose()
    assert len(peers) == 3
    assert len(set(peers)) == 1, peers  # one connection, kept open between the calls
    assert client.session is None or client.session.closed
    await client.aclose()  # closing twice is harmless


async def test_the_apps_client_never_writes_out_a_request_for_the_log(
    web_api: tuple[str, list[object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Left at its default level, the Web API client formats every request, blocks and
    customer names included, into a debug line before the log drops it."""
    url, _peers = web_api
    logged: list[str] = []
    debug = logging.Logger.debug

    def kept(self: logging.Logger, msg: object, *args: object, **kwargs: object) -> None:
        logged.append(f"{self.name}: {msg}")
        debug(self, msg, *args, **kwargs)

    monkeypatch.setattr(logging.Logger, "debug", kept)
    client = slack_client(load_settings(slack_bot_token="xoxb-1", slack_api_url=url))
    try:
        await client.chat_postMessage(channel="C1", text="Jane Doe's refund")
        # A client left as the SDK makes it: what the check tells apart.
        plain = AsyncWebClient(token="xoxb-1", base_url=url)
        await plain.chat_postMessage(channel="C1", text="Jane Doe's refund")
    finally:
        await client.aclose()
    assert any("Jane Doe" in line for line in logged)  # the plain client's request
    assert not [line for line in logged if line.startswith(f"{client.logger.name}: ")]
    assert client.logger.getEffectiveLevel() == logging.WARNING
