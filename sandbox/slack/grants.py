"""What Slack hands out for one use or a short while: trigger_ids, response_urls, and the
tickets of Socket Mode's WebSocket URLs."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from sandbox.slack.records import (
    APP_ID,
    RESPONSE_URL_MAX_USES,
    RESPONSE_URL_TTL_S,
    TRIGGER_TTL_S,
    ResponseUrl,
    SlackError,
    Trigger,
)
from sandbox.slack.shared import Shared


class Grants:
    """Minted trigger_ids and response_urls, and Socket Mode tickets, with their rules."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        # Set while a Socket Mode server serves this workspace (sandbox/slack/socket_mode.py).
        self.socket_mode_url: str | None = None
        self._socket_tickets: set[str] = set()

    def mint_trigger(self, user: str, *, view_id: str | None = None) -> str:
        """A fresh trigger_id for an interaction by `user` (from inside `view_id`, if any)."""
        with self.shared.lock:
            clock = self.shared.clock
            tid = f"{int(clock())}.{self.shared.next_id()}.{secrets.token_hex(8)}"
            self.triggers[tid] = Trigger(tid, user, clock(), view_id)
            return tid

    def use_trigger(self, trigger_id: str) -> Trigger:
        """Exchange a trigger_id: once only, within 3 s."""
        with self.shared.lock:
            trig = self.triggers.get(trigger_id)
            if trig is None:
                raise SlackError("invalid_trigger_id")
            if trig.used:
                raise SlackError("exchanged_trigger_id")
            if self.shared.clock() - trig.created_at > TRIGGER_TTL_S:
                raise SlackError("expired_trigger_id")
            trig.used = True
            return trig

    def mint_response_url(
        self,
        channel: str,
        user: str,
        *,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
        awaiting_ack: bool = False,
    ) -> str:
        """A fresh response_url token tied to a channel, a user and maybe the source message
        (for a slash command shown on the page: its ack, once shown)."""
        with self.shared.lock:
            token = secrets.token_urlsafe(18)
            self.response_urls[token] = ResponseUrl(
                token,
                channel,
                user,
                self.shared.clock(),
                message_ts,
                is_ephemeral,
                awaiting_ack=awaiting_ack,
            )
            return token

    def show_ack(
        self, token: str, text: str, blocks: list[Any], post: Callable[[str, list[Any]], str]
    ) -> None:
        """Show a slash command's ack through `post` (which returns the message's ts), or the
        response that already replaced it; later replacements then replace that message."""
        with self.shared.lock:
            rurl = self.response_urls.get(token)
            if rurl is None:
                post(text, blocks)
                return
            if rurl.early is not None:
                text, blocks = rurl.early
            if text or blocks:
                rurl.message_ts, rurl.is_ephemeral = post(text, blocks), True
            rurl.awaiting_ack, rurl.early = False, None

    def keep_for_ack(self, rurl: ResponseUrl, text: str, blocks: list[Any]) -> bool:
        """A replacement that came before the ack was shown: kept to be shown in its place."""
        with self.shared.lock:
            if rurl.awaiting_ack and not rurl.message_ts:
                rurl.early = (text, blocks)
                return True
            return False

    def use_response_url(self, token: str) -> ResponseUrl:
        """Spend one use of a response_url: 5 uses within 30 minutes."""
        with self.shared.lock:
            rurl = self.response_urls.get(token)
            if rurl is None:
                raise SlackError("invalid_url")
            if self.shared.clock() - rurl.created_at > RESPONSE_URL_TTL_S:
                raise SlackError("expired_url")
            if rurl.uses >= RESPONSE_URL_MAX_USES:
                raise SlackError("used_url")
            rurl.uses += 1
            return rurl

    def open_socket_connection(self) -> str:
        """apps.connections.open: a WebSocket URL with a one-time ticket."""
        with self.shared.lock:
            if self.socket_mode_url is None:
                raise SlackError("socket_mode_not_enabled")
            ticket = secrets.token_hex(16)
            self._socket_tickets.add(ticket)
            return f"{self.socket_mode_url}?ticket={ticket}&app_id={APP_ID}"

    def take_socket_ticket(self, ticket: str) -> bool:
        """True once for each ticket handed out."""
        with self.shared.lock:
            if ticket in self._socket_tickets:
                self._socket_tickets.remove(ticket)
                return True
            return False
