"""Sends signed requests to the app exactly as Slack does: commands, interactions, events."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from sandbox.slack.workspace import APP_ID, TEAM_DOMAIN, File, Message, SlackError, View, Workspace

# Slack's legacy verification token; Bolt ignores it but Slack still sends it.
VERIFICATION_TOKEN = "sandbox-verification-token"


@dataclass
class Posted:
    """A person's message and the app's answer to its `message` event (None when the bot is
    not in the channel, so Slack tells it nothing)."""

    message: Message
    response: httpx.Response | None
    event_id: str | None = None  # what a retry of that event would carry


@dataclass
class SharedFile:
    """What `share_file` did: the file, the message carrying it, and the app's answer to its
    `message` event (None when the bot is not in the channel)."""

    file: File
    message: Message
    response: httpx.Response | None
    event_id: str | None = None


def typed_text(text: str) -> str:
    """Text as a person typed it, escaped as Slack stores it (`&`, `<` and `>` as entities)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackDriver:
    """Plays Slack's side of the HTTP conversation with the app under test."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        workspace: Workspace,
        emulator_url: str,
        *,
        client: httpx.AsyncClient | None = None,
        api_app_id: str = APP_ID,
    ) -> None:
        self.events_url = app_url.rstrip("/") + "/slack/events"
        self.signing_secret = signing_secret
        self.workspace = workspace
        self.emulator_url = emulator_url.rstrip("/")
        self.api_app_id = api_app_id
        self._client = client or httpx.AsyncClient(timeout=10.0)
        self._owns_client = client is None

    async def __aenter__(self) -> SlackDriver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if the driver made it."""
        if self._owns_client:
            await self._client.aclose()

    # -- low level ---------------------------------------------------------------

    def sign(self, body: bytes, timestamp: int, secret: str | None = None) -> str:
        """The X-Slack-Signature value for this body and timestamp."""
        verifier = SignatureVerifier(secret or self.signing_secret)
        signature = verifier.generate_signature(timestamp=str(timestamp), body=body)
        if signature is None:  # only for a body that is neither str nor bytes
            raise TypeError("the body to sign must be bytes")
        return signature

    async def send(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST a raw body to /slack/events, signed with `secret` (default: the real one)."""
        # The app checks signatures against real time, never the workspace's test clock.
        ts = int(time.time()) if timestamp is None else timestamp
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": self.sign(body, ts, secret),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **(headers or {}),
        }
        return await self._client.post(self.events_url, content=body, headers=all_headers)

    async def send_form(self, fields: dict[str, str], **kw: Any) -> httpx.Response:
        """POST form fields, signed."""
        body = urlencode(fields).encode()
        return await self.send(body, "application/x-www-form-urlencoded", **kw)

    async def send_payload(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        """POST an interaction: a form field `payload` holding JSON."""
        return await self.send_form({"payload": json.dumps(payload)}, **kw)

    # -- shapes ------------------------------------------------------------------

    def _response_url(self, channel: str, user: str, **kw: Any) -> str:
        return self._url_of(self.workspace.mint_response_url(channel, user, **kw))

    def _url_of(self, token: str) -> str:
        return f"{self.emulator_url}/_sandbox/response/{token}"

    def _user(self, user: str) -> dict[str, Any]:
        name = self.workspace.user(user).name
        return {"id": user, "username": name, "name": name, "team_id": self.workspace.team_id}

    def _team(self) -> dict[str, Any]:
        return {"id": self.workspace.team_id, "domain": TEAM_DOMAIN}

    # -- what Slack sends ----------------------------------------------------------

    async def command(
        self,
        text: str,
        *,
        user: str = "U0MANAGER1",
        channel: str = "C0DISPUTES",
        command: str = "/dispute",
        response_url: str | None = None,
    ) -> httpx.Response:
        """A slash command, form-encoded with every field Slack sends (`response_url`: a token
        minted by the caller, to show the ack as the response_url's original)."""
        ch = self.workspace.channel(channel)
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.workspace.team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": ch.id,
            "channel_name": ch.name,
            "user_id": user,
            "user_name": self.workspace.user(user).name,
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": (
                self._url_of(response_url) if response_url else self._response_url(ch.id, user)
            ),
            "trigger_id": self.workspace.mint_trigger(user),
        }
        return await self.send_form(fields)

    async def block_action(
        self,
        action_id: str,
        *,
        user: str = "U0MANAGER1",
        channel: str = "C0DISPUTES",
        message_ts: str | None = None,
        view_id: str | None = None,
        value: str | None = None,
        selected: str | list[str] | None = None,
        block_id: str | None = None,
    ) -> httpx.Response:
        """A click on an element of a message (newest one holding `action_id` by default)
        or of an open modal (`view_id`); `selected` picks option values or a date."""
        if view_id is not None:
            view = self.workspace.find_view(view_id)
            found = _find_element(view.view.get("blocks", []), action_id, block_id)
            payload = self._base_payload("block_actions", user, view_id=view.id)
            payload.update(container={"type": "view", "view_id": view.id}, view=view.to_slack())
        else:
            msg, is_ephemeral = self._find_message(action_id, user, channel, message_ts)
            found = _find_element(msg.get("blocks", []), action_id, block_id)
            ch = self.workspace.channel(channel)
            payload = self._base_payload("block_actions", user)
            container = {
                "type": "message",
                "message_ts": msg["ts"],
                "channel_id": ch.id,
                "is_ephemeral": is_ephemeral,
            }
            if msg.get("thread_ts"):
                container["thread_ts"] = msg["thread_ts"]
            payload.update(
                container=container,
                channel={"id": ch.id, "name": ch.name},
                message=msg,
                state={"values": {}},
                response_url=self._response_url(
                    ch.id, user, message_ts=msg["ts"], is_ephemeral=is_ephemeral
                ),
            )
        if found is None:
            raise LookupError(f"no element with action_id {action_id!r}")
        bid, element = found
        payload["actions"] = [_action(element, bid, value, selected, self.workspace.clock())]
        return await self.send_payload(payload)

    async def view_submission(
        self,
        values: dict[str, dict[str, Any]] | None = None,
        *,
        user: str = "U0MANAGER1",
        view_id: str | None = None,
    ) -> httpx.Response:
        """Submit a modal (default: the user's top one). `values` maps block_id -> action_id ->
        a plain value (str, list, date, or file ids for a file_input) or a ready Slack state
        dict; then the response's response_action is applied to the workspace as Slack would."""
        view = self.workspace.find_view(view_id) if view_id else self.workspace.top_view(user)
        if view is None:
            raise SlackError("not_found")
        view.state = {"values": self._state_values(view.view.get("blocks", []), values or {})}
        payload = self._base_payload("view_submission", user, view_id=view.id)
        payload.update(view=view.to_slack(), response_urls=[])
        response = await self.send_payload(payload)
        self._apply_view_response(view, response)
        return response

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> httpx.Response:
        """An Events API event_callback envelope; retries carry Slack's retry headers."""
        now = self.workspace.clock()
        event = {"event_ts": f"{now:.6f}", **event}
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.workspace.team_id,
            "context_team_id": self.workspace.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.workspace.team_id,
                    "user_id": self.workspace.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        body = json.dumps(envelope).encode()
        return await self.send(body, "application/json", headers=headers)

    async def post_message(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> Posted:
        """A person sends `text` in a channel or, with `thread_ts`, in a thread: the message is
        stored as theirs (escaped as Slack stores typed text) and the app gets its event."""
        msg = self.workspace.post_message(
            channel, text=typed_text(text), user=user, thread_ts=thread_ts
        )
        return await self._deliver(msg)

    async def share_file(
        self,
        channel: str,
        user: str,
        name: str,
        content: bytes,
        mimetype: str = "",
        *,
        thread_ts: str | None = None,
        text: str = "",
    ) -> SharedFile:
        """A person drops a file into a channel or thread, with an optional comment: the
        `file_share` message is posted and the app gets its `message` event."""
        ws = self.workspace
        msg = ws.share_file(
            channel, user, name, content, mimetype, thread_ts=thread_ts, text=typed_text(text)
        )
        posted = await self._deliver(msg)
        return SharedFile(ws.file(msg.files[0]), msg, posted.response, posted.event_id)

    async def _deliver(self, msg: Message) -> Posted:
        # Slack sends a channel's message events only to apps whose bot is in the channel.
        ws = self.workspace
        if ws.bot_user_id not in ws.channel(msg.channel).members:
            return Posted(msg, None)
        event_id = f"Ev{secrets.token_hex(5).upper()}"
        response = await self.event(self.message_event(msg), event_id=event_id)
        return Posted(msg, response, event_id)

    def message_event(self, msg: Message) -> dict[str, Any]:
        """The Events API `message` event for a stored message, as Slack sends it."""
        ws = self.workspace
        event = msg.to_slack(ws)
        event.update(channel=msg.channel, channel_type=self._channel_type(msg.channel))
        event["event_ts"] = msg.ts
        if msg.is_reply and (parent := ws.message(msg.channel, str(msg.thread_ts))):
            event["parent_user_id"] = parent.user
        return event

    # -- helpers -----------------------------------------------------------------

    def _channel_type(self, channel_id: str) -> str:
        if self.workspace.is_dm(channel_id):
            return "im"
        return "group" if self.workspace.channel(channel_id).is_private else "channel"

    def _state_values(
        self, blocks: list[dict[str, Any]], values: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        state: dict[str, dict[str, Any]] = {}
        for bid, el in _elements(blocks):
            if el.get("type") in ("button", "overflow"):
                continue
            raw = values.get(bid, {}).get(el["action_id"])
            state.setdefault(bid, {})[el["action_id"]] = self._state_entry(el, raw)
        return state

    def _state_entry(self, el: dict[str, Any], raw: Any) -> dict[str, Any]:
        """One element's entry in view.state.values; `raw` may already be Slack's dict."""
        if isinstance(raw, dict):
            return raw
        if el["type"] == "file_input":
            return {"type": "file_input", "files": self._file_objects(raw)}
        return {"type": el["type"], **_empty(el["type"]), **_selection(el, raw)}

    def _file_objects(self, ids: str | list[str] | None) -> list[dict[str, Any]]:
        """Full file objects for file ids (one or a list); `file_not_found` for an unknown id."""
        ws = self.workspace
        wanted = [ids] if isinstance(ids, str) else list(ids or [])
        return [ws.file(str(fid)).to_slack(ws.base_url) for fid in wanted]

    def _base_payload(self, kind: str, user: str, *, view_id: str | None = None) -> dict:
        return {
            "type": kind,
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": VERIFICATION_TOKEN,
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "trigger_id": self.workspace.mint_trigger(user, view_id=view_id),
        }

    def _find_message(
        self, action_id: str, user: str, channel: str, message_ts: str | None
    ) -> tuple[dict[str, Any], bool]:
        ws = self.workspace
        ch = ws.channel(channel)

        def wanted(ts: str) -> bool:
            return message_ts is None or ts == message_ts

        with ws.lock:  # only the candidates are copied out: a channel can hold thousands
            messages = [m for m in ws.messages[ch.id] if wanted(m.ts)]
            ephemerals = [e for e in ws.ephemerals_for(user, ch.id) if wanted(e.ts)]
            candidates = [(m.to_slack(ws), False) for m in messages]
            candidates += [
                ({"type": "message", "user": ws.bot_user_id, **e.to_slack()}, True)
                for e in ephemerals
            ]
        candidates.sort(key=lambda c: float(c[0]["ts"]), reverse=True)
        for msg, is_ephemeral in candidates:
            if message_ts is not None or _find_element(msg.get("blocks", []), action_id, None):
                return msg, is_ephemeral
        raise LookupError(f"no message in {channel} with action_id {action_id!r}")

    def _apply_view_response(self, view: View, response: httpx.Response) -> None:
        # Slack closes the modal on an empty 200 and follows response_action otherwise.
        if response.status_code != 200:
            return
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        action = body.get("response_action") if isinstance(body, dict) else None
        ws = self.workspace
        if action == "errors":
            ws.set_view_errors(view.id, body.get("errors") or {})
            return
        if view.errors:
            view.errors = {}
        if action is None:
            ws.close_view(view.id)
        elif action == "clear":
            ws.close_view(view.id, clear=True)
        elif action == "update":
            ws.update_view(body["view"], view_id=view.id)
        elif action == "push":
            ws.push_view(ws.mint_trigger(view.user, view_id=view.id), body["view"])


def _elements(blocks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for b in blocks:
        bid = b.get("block_id") or ""
        for el in [b.get("accessory"), b.get("element"), *(b.get("elements") or [])]:
            if isinstance(el, dict) and el.get("action_id"):
                found.append((bid, el))
    return found


def _find_element(
    blocks: list[dict[str, Any]], action_id: str, block_id: str | None
) -> tuple[str, dict[str, Any]] | None:
    for bid, el in _elements(blocks):
        if el["action_id"] == action_id and block_id in (None, bid):
            return bid, el
    return None


def _option(element: dict[str, Any], value: str) -> dict[str, Any]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    for opt in options:
        if opt.get("value") == value:
            return opt
    raise LookupError(f"no option {value!r} in {element.get('action_id')!r}")


def _action(
    el: dict[str, Any], block_id: str, value: str | None, selected: Any, now: float
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "type": el["type"],
        "action_id": el["action_id"],
        "block_id": block_id,
        "action_ts": f"{now:.6f}",
    }
    if "text" in el:
        action["text"] = el["text"]
    if el["type"] == "button":
        if value is not None or "value" in el:
            action["value"] = value if value is not None else el["value"]
        if el.get("style"):
            action["style"] = el["style"]
    action.update(_selection(el, selected))
    return action


def _selection(el: dict[str, Any], selected: Any) -> dict[str, Any]:
    """The field a stateful element reports: Slack names it differently per element type."""
    kind = el["type"]
    if selected is None:
        return {}
    if kind == "datepicker":
        return {"selected_date": str(selected)}
    if kind in ("checkboxes", "multi_static_select"):
        values = selected if isinstance(selected, list) else [selected]
        return {"selected_options": [_option(el, v) for v in values]}
    if kind in ("static_select", "radio_buttons", "overflow"):
        return {"selected_option": _option(el, str(selected))}
    if kind in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
        return {"value": str(selected)}
    return {"value": selected}


def _empty(kind: str) -> dict[str, Any]:
    # An untouched input still appears in state.values with a null selection.
    if kind in ("checkboxes", "multi_static_select"):
        return {"selected_options": []}
    if kind in ("static_select", "radio_buttons"):
        return {"selected_option": None}
    if kind == "datepicker":
        return {"selected_date": None}
    return {"value": None}
