"""One sandbox Slack workspace in memory: a directory (members, groups, channels), messages,
files, views, one-time grants and the call log, each its own store; the HTTP layer is
elsewhere."""

from __future__ import annotations

import time
from typing import Any

from sandbox.slack.call_log import CallLog
from sandbox.slack.directory import Directory
from sandbox.slack.file_store import FileStore
from sandbox.slack.grants import Grants
from sandbox.slack.message_store import MessageStore
from sandbox.slack.rate_limits import RateLimits, SlackLimits
from sandbox.slack.records import (
    APP_ID,
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    Channel,
    Ephemeral,
    File,
    Message,
    SlackError,
    User,
    Usergroup,
    View,
)
from sandbox.slack.shared import Clock, Shared
from sandbox.slack.view_store import ViewStore

__all__ = [
    "APP_ID",
    "TEAM_DOMAIN",
    "Channel",
    "Clock",
    "Ephemeral",
    "File",
    "Message",
    "SlackError",
    "SlackLimits",
    "User",
    "Usergroup",
    "View",
    "Workspace",
]


class Workspace:
    """The stores of one workspace, built with what each depends on. Their public methods are
    the workspace's too, so callers need not know which store keeps what; every method holds
    the one shared lock."""

    def __init__(self, *, clock: Clock = time.time, bot_token: str = BOT_TOKEN) -> None:
        self.bot_token = bot_token
        self.app_token = APP_TOKEN
        self.bot_user_id = BOT_USER_ID
        self.bot_id = BOT_ID
        self.team_id = TEAM_ID
        self.shared = Shared(clock)
        self.directory = Directory(self.shared, bot_user_id=BOT_USER_ID)
        self.file_store = FileStore(self.shared, self.directory, bot_user_id=BOT_USER_ID)
        self.message_store = MessageStore(
            self.shared, self.directory, self.file_store, bot_user_id=BOT_USER_ID, bot_id=BOT_ID
        )
        self.grants = Grants(self.shared)
        self.view_store = ViewStore(self.shared, self.directory, self.grants)
        self.call_log = CallLog(self.shared)
        self.rate_limits = RateLimits(self.shared)
        self._expose_stores()
        self.add_user(User(BOT_USER_ID, "dispute-desk", "Dispute Desk", is_bot=True))

    def _expose_stores(self) -> None:
        # The lock, the clock and the version.
        self.lock = self.shared.lock
        self.clock = self.shared.clock
        self.changed = self.shared.changed
        # Members, user groups, channels and DMs.
        self.users = self.directory.users
        self.channels = self.directory.channels
        self.usergroups = self.directory.usergroups
        self.dm_users = self.directory.dm_users
        self.add_user = self.directory.add_user
        self.add_channel = self.directory.add_channel
        self.add_usergroup = self.directory.add_usergroup
        self.usergroup = self.directory.usergroup
        self.user = self.directory.user
        self.channel = self.directory.channel
        self.dm_id = self.directory.dm_id
        self.dm_channel = self.directory.dm_channel
        self.is_dm = self.directory.is_dm
        self.join = self.directory.join
        # Messages, threads, messages carrying files, ephemeral messages.
        self.messages = self.message_store.messages
        self.ephemerals = self.message_store.ephemerals
        self.next_ts = self.message_store.next_ts
        self.message = self.message_store.message
        self.post_message = self.message_store.post_message
        self.update_message = self.message_store.update_message
        self.delete_message = self.message_store.delete_message
        self.history = self.message_store.history
        self.thread = self.message_store.thread
        self.share_file = self.message_store.share_file
        self.complete_uploads = self.message_store.complete_uploads
        self.post_ephemeral = self.message_store.post_ephemeral
        self.delete_ephemeral = self.message_store.delete_ephemeral
        self.replace_ephemeral = self.message_store.replace_ephemeral
        self.ephemerals_for = self.message_store.ephemerals_for
        # Files and upload reservations.
        self.files = self.file_store.files
        self.uploads = self.file_store.uploads
        self.add_file = self.file_store.add_file
        self.file = self.file_store.file
        self.may_see_file = self.file_store.may_see_file
        self.reserve_upload = self.file_store.reserve_upload
        self.upload_url = self.file_store.upload_url
        self.open_upload = self.file_store.open_upload
        self.receive_upload = self.file_store.receive_upload
        # Trigger_ids, response_urls, Socket Mode tickets.
        self.triggers = self.grants.triggers
        self.response_urls = self.grants.response_urls
        self.mint_trigger = self.grants.mint_trigger
        self.use_trigger = self.grants.use_trigger
        self.mint_response_url = self.grants.mint_response_url
        self.show_ack = self.grants.show_ack
        self.keep_for_ack = self.grants.keep_for_ack
        self.use_response_url = self.grants.use_response_url
        self.open_socket_connection = self.grants.open_socket_connection
        self.take_socket_ticket = self.grants.take_socket_ticket
        # Modals and Home tabs.
        self.views = self.view_store.views
        self.home_views = self.view_store.home_views
        self.open_view = self.view_store.open_view
        self.push_view = self.view_store.push_view
        self.find_view = self.view_store.find_view
        self.update_view = self.view_store.update_view
        self.publish_home = self.view_store.publish_home
        self.view_stack = self.view_store.view_stack
        self.top_view = self.view_store.top_view
        self.close_view = self.view_store.close_view
        self.set_view_errors = self.view_store.set_view_errors
        # The call log and armed rate limits.
        self.calls = self.call_log.calls
        self.ratelimits = self.call_log.ratelimits
        self.arm_ratelimit = self.call_log.arm_ratelimit
        self.take_ratelimit = self.call_log.take_ratelimit
        self.arm_late_answer = self.call_log.arm_late_answer
        self.take_late_answer = self.call_log.take_late_answer
        self.arm_error = self.call_log.arm_error
        self.take_error = self.call_log.take_error
        self.record_call = self.call_log.record_call
        self.calls_to = self.call_log.calls_to
        # Slack's rate limits, emulated (off until set).
        self.set_limits = self.rate_limits.set_limits

    @classmethod
    def default(cls, *, clock: Clock = time.time, bot_token: str = BOT_TOKEN) -> Workspace:
        """The seed used by the demo and the tests: two channels, four people, bot not joined."""
        ws = cls(clock=clock, bot_token=bot_token)
        people = [
            ("U0AGENT", "ana", "Ana Agent"),
            ("U0MANAGER1", "max", "Max Manager"),
            ("U0MANAGER2", "mia", "Mia Manager"),
            ("U0SUPER", "sam", "Sam Supervisor"),
        ]
        for uid, name, real in people:
            ws.add_user(User(uid, name, real, email=f"{name}@sandbox.example"))
        humans = {uid for uid, _, _ in people}
        ws.add_channel(Channel("C0DISPUTES", "disputes", set(humans)))
        ws.add_channel(Channel("C0SUPERVISORS", "dispute-supervisors", {"U0SUPER", "U0MANAGER1"}))
        ws.add_usergroup("S0MANAGERS", "managers", ["U0MANAGER1", "U0MANAGER2"])
        return ws

    @property
    def version(self) -> int:
        """Bumped by every change a person could see; the page's event stream watches it."""
        return self.shared.version

    @property
    def base_url(self) -> str:
        """Where the emulator serves this workspace (file URLs start here); the server sets it."""
        return self.file_store.base_url

    @base_url.setter
    def base_url(self, url: str) -> None:
        self.file_store.base_url = url

    @property
    def socket_mode_url(self) -> str | None:
        """Set while a Socket Mode server serves this workspace (sandbox/slack/socket_mode.py)."""
        return self.grants.socket_mode_url

    @socket_mode_url.setter
    def socket_mode_url(self, url: str | None) -> None:
        self.grants.socket_mode_url = url

    def snapshot(self) -> dict[str, Any]:
        """Everything a test or the browser page needs, as JSON-friendly data."""
        with self.lock:
            channels = []
            for ch in self.channels.values():
                msgs = []
                for m in self.messages[ch.id]:
                    if m.is_reply:
                        continue
                    item = m.to_slack(self)
                    item["thread"] = [r.to_slack(self) for r in self.thread(ch.id, m.ts)[1:]]
                    msgs.append(item)
                channels.append(
                    {
                        "id": ch.id,
                        "name": ch.name,
                        "members": sorted(ch.members),
                        "messages": msgs,
                    }
                )
            return {
                "team_id": self.team_id,
                "bot_user_id": self.bot_user_id,
                "users": [u.to_slack() for u in self.users.values()],
                "channels": channels,
                "ephemerals": [e.to_slack() for e in self.ephemerals],
                "views": [
                    v.to_slack() | {"user": v.user, "closed": v.closed, "errors": dict(v.errors)}
                    for v in self.views.values()
                    if v.type != "home"
                ],
                "home_views": {u: v.to_slack() for u, v in self.home_views.items()},
            }
