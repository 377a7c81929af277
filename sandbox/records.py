"""The records a sandbox workspace keeps: users, channels, messages, views, tokens."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.workspace import Workspace

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "sandbox"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0SANDBOX"
BOT_TOKEN = "xoxb-sandbox"

TRIGGER_TTL_S = 3.0
RESPONSE_URL_TTL_S = 30 * 60.0
RESPONSE_URL_MAX_USES = 5
VIEW_STACK_LIMIT = 3


class SlackError(Exception):
    """A Slack API error code, with optional extra response fields."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class User:
    """A workspace member."""

    id: str
    name: str
    real_name: str
    tz: str = "America/New_York"
    tz_label: str = "Eastern Standard Time"
    tz_offset: int = -18000
    is_bot: bool = False
    email: str = ""

    def to_slack(self) -> dict[str, Any]:
        """The `user` object of users.info."""
        profile: dict[str, Any] = {
            "real_name": self.real_name,
            "display_name": self.name,
            "real_name_normalized": self.real_name,
            "display_name_normalized": self.name,
            "team": TEAM_ID,
        }
        if self.email:
            profile["email"] = self.email
        if self.is_bot:
            profile["bot_id"] = BOT_ID
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": False,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": self.tz_label,
            "tz_offset": self.tz_offset,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
        }


@dataclass
class Channel:
    """A public channel and who is in it."""

    id: str
    name: str
    members: set[str] = field(default_factory=set)
    created: int = 1700000000
    is_private: bool = False

    def to_slack(self, viewer: str) -> dict[str, Any]:
        """The `channel` object of conversations.info, as seen by `viewer`."""
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": False,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": viewer in self.members,
            "created": self.created,
            "creator": "U0SUPER",
            "context_team_id": TEAM_ID,
            "num_members": len(self.members),
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }


@dataclass
class Message:
    """A channel message or a thread reply."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    user: str
    bot_id: str | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    replies: list[str] = field(default_factory=list)
    edited: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None

    @property
    def is_reply(self) -> bool:
        """True for a thread reply (not the parent)."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_slack(self, workspace: Workspace | None = None) -> dict[str, Any]:
        """The message object as the Web API returns it."""
        out: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "team": TEAM_ID,
        }
        if self.blocks:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.bot_id:
            out["bot_id"] = self.bot_id
            out["app_id"] = APP_ID
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.reply_broadcast:
            out["subtype"] = "thread_broadcast"
            out["root"] = {"ts": self.thread_ts}
        if self.edited:
            out["edited"] = dict(self.edited)
        if self.metadata:
            out["metadata"] = copy.deepcopy(self.metadata)
        if self.replies and workspace is not None:
            reply_msgs = [workspace.message(self.channel, ts) for ts in self.replies]
            users = list(dict.fromkeys(m.user for m in reply_msgs if m))
            out.update(
                reply_count=len(self.replies),
                reply_users=users,
                reply_users_count=len(users),
                latest_reply=self.replies[-1],
            )
        return out


@dataclass
class Ephemeral:
    """A message only one user sees; `via` is "api" or "response_url"."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    via: str = "api"
    thread_ts: str | None = None

    def to_slack(self) -> dict[str, Any]:
        """A JSON-friendly record of the ephemeral message."""
        return {
            "channel": self.channel,
            "user": self.user,
            "ts": self.ts,
            "text": self.text,
            "blocks": copy.deepcopy(self.blocks),
            "via": self.via,
            "thread_ts": self.thread_ts,
        }


@dataclass
class View:
    """A modal or Home tab view as Slack keeps it."""

    id: str
    user: str
    view: dict[str, Any]
    hash: str
    root_view_id: str | None = None
    previous_view_id: str | None = None
    state: dict[str, Any] = field(default_factory=lambda: {"values": {}})
    closed: bool = False
    # block_id -> message from the app's last `response_action: errors` (not part of Slack's view).
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def type(self) -> str:
        """ "modal" or "home"."""
        return str(self.view.get("type", "modal"))

    @property
    def external_id(self) -> str | None:
        """The caller-chosen id, if any."""
        return self.view.get("external_id")

    def to_slack(self) -> dict[str, Any]:
        """The `view` object of the views.* responses and view payloads."""
        v = self.view
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "type": self.type,
            "title": copy.deepcopy(v.get("title")),
            "submit": copy.deepcopy(v.get("submit")),
            "close": copy.deepcopy(v.get("close")),
            "blocks": copy.deepcopy(v.get("blocks", [])),
            "private_metadata": v.get("private_metadata", ""),
            "callback_id": v.get("callback_id", ""),
            "external_id": v.get("external_id", ""),
            "state": copy.deepcopy(self.state),
            "hash": self.hash,
            "clear_on_close": bool(v.get("clear_on_close", False)),
            "notify_on_close": bool(v.get("notify_on_close", False)),
            "root_view_id": self.root_view_id or self.id,
            "previous_view_id": self.previous_view_id,
            "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }


@dataclass
class Trigger:
    """A minted trigger_id: valid once, for 3 seconds."""

    id: str
    user: str
    created_at: float
    view_id: str | None = None
    used: bool = False


@dataclass
class ResponseUrl:
    """A minted response_url: 5 uses within 30 minutes."""

    token: str
    channel: str
    user: str
    created_at: float
    message_ts: str | None = None
    is_ephemeral: bool = False
    uses: int = 0


@dataclass
class RateLimit:
    """An armed 429 for the next `times` calls of one method."""

    retry_after: int
    times: int
