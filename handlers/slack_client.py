"""The app's Web API client: every call goes through a `RateGate`, one lane per method, and per
method and channel for the posting methods; a call Slack's limit would keep waiting past its
patience fails as Slack's own 429 would (`ratelimited`). Its calls share one HTTP session (kept
connections), opened at the first call and closed by `aclose`; so do the answers sent to a
request's `response_url` (`SharedRespond`)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import ClientSession, ClientTimeout, FormData, TCPConnector
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.respond.internals import _build_message  # what Bolt's respond sends
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient, WebhookResponse

from handlers.slack_limits import GaveUp, Key, LimitCounters, RateGate

log = logging.getLogger(__name__)

# Limited per channel by Slack (chat.postMessage: about one a second per channel): a busy
# channel's pause holds back only the calls into that channel.
PER_CHANNEL = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
# A trigger_id lasts 3 s: waiting longer for a modal is pointless. A permalink only adorns an
# answer somebody waits for: without it the answer still goes out.
PATIENCE = {"views.open": 2.5, "views.push": 2.5, "chat.getPermalink": 5.0}


class RateLimitGaveUp(SlackApiError):
    """A call not sent because Slack's rate limit would have kept it waiting too long."""


def retry_after(error: BaseException) -> float | None:
    """Seconds Slack asked to wait, when `error` is its 429; None for any other error."""
    if not isinstance(error, SlackApiError) or isinstance(error, RateLimitGaveUp):
        return None
    response = error.response
    data = response.data if isinstance(response.data, dict) else {}
    if response.status_code != 429 and data.get("error") != "ratelimited":
        return None
    headers = response.headers or {}
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    try:
        return max(float(value), 0.0) if value is not None else 1.0
    except ValueError:
        return 1.0


def lane_of(method: str, arguments: dict[str, Any] | FormData | None) -> Key:
    if method not in PER_CHANNEL or not isinstance(arguments, dict):
        return (method, None)
    channel = arguments.get("channel")
    return (method, str(channel) if channel else None)


class LimitedWebClient(AsyncWebClient):
    def __init__(self, *, gate: RateGate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate
        self._closed = False

    def _share_session(self) -> None:
        """One session for every call: slack_sdk otherwise opens a session, and a connection,
        per call and closes it after. Opened in the event loop of the first call; none is
        opened again after `aclose` (a late call then gets a session of its own, as before)."""
        if self.session is None and not self._closed:
            self.session = ClientSession(
                # What slack_sdk gives each session it opens per call: the client's timeout.
                timeout=ClientTimeout(total=self.timeout),
                trust_env=self.trust_env_in_session,
                # Sessions per call were never limited together: neither is the shared one.
                connector=TCPConnector(limit=0),
            )

    async def aclose(self) -> None:
        """Close the shared session (when the app stops)."""
        self._closed = True
        session, self.session = self.session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> LimitedWebClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    @property
    def counters(self) -> LimitCounters:
        return self.gate.counters

    def webhook(self, url: str) -> AsyncWebhookClient:
        """A client for a `response_url`, on this client's session."""
        self._share_session()
        return AsyncWebhookClient(
            url=url, timeout=self.timeout, proxy=self.proxy, ssl=self.ssl, session=self.session
        )

    async def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict | None = None,
        data: dict | FormData | None = None,
        params: dict | None = None,
        json: dict | None = None,
        headers: dict | None = None,
        auth: dict | None = None,
    ) -> AsyncSlackResponse:
        self._share_session()
        key = lane_of(api_method, json or data or params)

        async def send() -> AsyncSlackResponse:
            return await super(LimitedWebClient, self).api_call(
                api_method,
                http_verb=http_verb,
                files=files,
                data=data,
                params=params,
                json=json,
                headers=headers,
                auth=auth,
            )

        try:
            return await self.gate.call(
                key,
                send,
                patience=PATIENCE.get(api_method),
                budget=key[1] if api_method == "chat.postMessage" else None,
            )
        except GaveUp as exc:
            raise self._gave_up(api_method, exc) from exc

    def _gave_up(self, method: str, exc: GaveUp) -> RateLimitGaveUp:
        last = exc.last
        if isinstance(last, SlackApiError):
            response = last.response
        else:  # the posting budget: Slack was never asked
            response = AsyncSlackResponse(
                client=self,
                http_verb="POST",
                api_url=self.base_url + method,
                req_args={},
                data={"ok": False, "error": "ratelimited"},
                headers={},
                status_code=429,
            )
        return RateLimitGaveUp(str(exc), response)


class SharedRespond(AsyncRespond):
    """A request's `respond` on the app client's HTTP session: Bolt's own opens a session, and
    a connection, for each answer and closes it after. It takes what Bolt's takes (positional
    or by name, blocks as dicts or Block objects, or a whole message as a dict) and builds the
    message with Bolt's own builder."""

    def __init__(self, response_url: str, client: LimitedWebClient) -> None:
        super().__init__(response_url=response_url, proxy=client.proxy, ssl=client.ssl)
        self.client = client

    async def __call__(
        self, text: str | dict[str, Any] = "", *args: Any, **fields: Any
    ) -> WebhookResponse:
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(text, *args, **fields)
        return await self.client.webhook(str(self.response_url)).send_dict(message)
