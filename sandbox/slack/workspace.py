"""In-memory state of the sandbox Slack workspace: channels, users, messages, files (and uploads
under way), views, tokens."""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.slack.files_store import FileStore
from sandbox.slack.records import (
    APP_ID,
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    RESPONSE_URL_MAX_USES,
    RESPONSE_URL_TTL_S,
    TEAM_DOMAIN,
    TEAM_ID,
    TRIGGER_TTL_S,
    VIEW_STACK_LIMIT,
    Channel,
    Ephemeral,
    File,
    Message,
    PendingUpload,
    RateLimit,
    ResponseUrl,
    SlackError,
    Trigger,
    User,
    View,
)

Clock = Callable[[], float]

__all__ = [
    "APP_ID",
    "TEAM_DOMAIN",
    "Channel",
    "Clock",
    "Ephemeral",
    "File",
    "Message",
    "SlackError",
    "User",
    "Usergroup",
    "View",
    "Workspace",
]


@dataclass
class Usergroup:
    """A Slack user group (`@handle`), as `usergroups.users.list` sees it."""

    id: str
    handle: str
    users: list[str]


class Workspace(FileStore):
    """One Slack workspace in memory; every method holds the lock, the HTTP layer is elsewhere."""

    def __init__(self, *, clock: Clock = time.time, bot_token: str = BOT_TOKEN) -> None:
        self.clock = clock
        self.bot_token = bot_token
        self.app_token = APP_TOKEN
        # Set while a Socket Mode server serves this workspace (sandbox/socket_mode.py).
        self.socket_mode_url: str | None = None
        self._socket_tickets: set[str] = set()
        self.bot_user_id = BOT_USER_ID
        self.bot_id = BOT_ID
        self.team_id = TEAM_ID
        # Where the emulator serves this workspace (file URLs start here); the server sets it.
        self.base_url = ""
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, Usergroup] = {}
        self.messages: dict[str, list[Message]] = {}
        self.files: dict[str, File] = {}
        # files.getUploadURLExternal reservations not yet completed, by file id.
        self.uploads: dict[str, PendingUpload] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.home_views: dict[str, View] = {}
        # Direct-message channels with the bot: channel id -> the person it is with.
        self.dm_users: dict[str, str] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.ratelimits: dict[str, RateLimit] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._last_ts = 0.0
        # Bumped by every change a person could see; the page's event stream watches it.
        self.version = 0
        self._ids = itertools.count(1)
        self.add_user(User(BOT_USER_ID, "dispute-desk", "Dispute Desk", is_bot=True))

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

    def changed(self) -> int:
        """Note a visible change (messages, ephemerals, views); returns the new version."""
        with self.lock:
            self.version += 1
            return self.version

    # -- directory ---------------------------------------------------------------

    def add_user(self, user: User) -> User:
        """Add or replace a member."""
        with self.lock:
            self.users[user.id] = user
            return user

    def add_channel(self, channel: Channel) -> Channel:
        """Add or replace a channel."""
        with self.lock:
            self.channels[channel.id] = channel
            self.messages.setdefault(channel.id, [])
            self.changed()
            return channel

    def add_usergroup(self, group_id: str, handle: str, users: Iterable[str]) -> Usergroup:
        """Add or replace a user group; every member must already be a user here."""
        with self.lock:
            members = list(dict.fromkeys(users))
            for uid in members:
                self.user(uid)
            group = Usergroup(group_id, handle, members)
            self.usergroups[group_id] = group
            return group

    def usergroup(self, group_id: str) -> Usergroup:
        """A user group by id, or `no_such_subteam`."""
        with self.lock:
            if group_id not in self.usergroups:
                raise SlackError("no_such_subteam")
            return self.usergroups[group_id]

    def user(self, user_id: str) -> User:
        """A member by id, or `user_not_found`."""
        with self.lock:
            if user_id not in self.users:
                raise SlackError("user_not_found")
            return self.users[user_id]

    def channel(self, ref: str) -> Channel:
        """A channel by id, name or #name, or `channel_not_found`. A person's id or their DM id
        (`D0…`) answers their DM with the bot, opened on first use as Slack does."""
        with self.lock:
            if ref in self.channels:
                return self.channels[ref]
            if (dm_user := self._dm_user_for(ref)) is not None:
                return self.dm_channel(dm_user)
            name = ref.removeprefix("#")
            for ch in self.channels.values():
                if ch.name == name and ch.id not in self.dm_users:
                    return ch
            raise SlackError("channel_not_found")

    @staticmethod
    def dm_id(user_id: str) -> str:
        """The id of a person's DM with the bot: U0AGENT -> D0AGENT."""
        return "D" + user_id[1:] if user_id.startswith("U") else "D0" + user_id

    def _dm_user_for(self, ref: str) -> str | None:
        for uid, u in self.users.items():
            if not u.is_bot and ref in (uid, self.dm_id(uid)):
                return uid
        return None

    def dm_channel(self, user_id: str) -> Channel:
        """The person's direct-message channel with the bot, created on first use."""
        with self.lock:
            person = self.user(user_id)
            if person.is_bot:
                raise SlackError("cannot_dm_bot")
            cid = self.dm_id(user_id)
            ch = self.channels.get(cid)
            if ch is None:
                # Slack's DMs have no name; this one is for the plain view and transcripts.
                name = f"dm-{person.name}"
                ch = Channel(cid, name, {user_id, self.bot_user_id}, is_private=True)
                self.dm_users[cid] = user_id
                self.add_channel(ch)
            return ch

    def is_dm(self, channel_id: str) -> bool:
        """True for a direct-message channel with the bot."""
        with self.lock:
            return channel_id in self.dm_users

    def join(self, channel_ref: str, user_id: str) -> tuple[Channel, bool]:
        """Add a member; returns the channel and whether they were already in it."""
        with self.lock:
            ch = self.channel(channel_ref)
            already = user_id in ch.members
            ch.members.add(user_id)
            self.changed()
            return ch, already

    # -- messages ----------------------------------------------------------------

    def next_ts(self) -> str:
        """A Slack-style ts, strictly increasing even when the clock stands still."""
        with self.lock:
            now = round(self.clock(), 6)
            self._last_ts = max(now, round(self._last_ts + 0.000001, 6))
            return f"{self._last_ts:.6f}"

    def message(self, channel_id: str, ts: str) -> Message | None:
        """The message (parent or reply) with this ts, if any."""
        with self.lock:
            for m in self.messages.get(channel_id, []):
                if m.ts == ts:
                    return m
            return None

    def post_message(
        self,
        channel_ref: str,
        *,
        text: str = "",
        blocks: list[dict[str, Any]] | None = None,
        user: str | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        metadata: dict[str, Any] | None = None,
        files: list[str] | None = None,
    ) -> Message:
        """Store a message (with already uploaded `files`, if any); posts as the bot unless
        `user` names a human."""
        with self.lock:
            ch = self.channel(channel_ref)
            author = user or self.bot_user_id
            parent = self._thread_parent(ch.id, thread_ts)
            shared = [self.file(fid) for fid in files or []]
            msg = Message(
                channel=ch.id,
                ts=self.next_ts(),
                text=text,
                blocks=copy.deepcopy(blocks or []),
                user=author,
                bot_id=self.bot_id if author == self.bot_user_id else None,
                thread_ts=thread_ts,
                reply_broadcast=reply_broadcast and parent is not None,
                metadata=metadata,
                files=[f.id for f in shared],
            )
            for f in shared:
                f.is_public = f.is_public or not (ch.is_private or self.is_dm(ch.id))
                f.shared_in.add(ch.id)
            if parent is not None:
                parent.thread_ts = parent.ts
                parent.replies.append(msg.ts)
            self.messages[ch.id].append(msg)
            self.changed()
            return msg

    def _thread_parent(self, channel_id: str, thread_ts: str | None) -> Message | None:
        if thread_ts is None:
            return None
        parent = self.message(channel_id, thread_ts)
        # Slack only threads under top-level messages.
        if parent is None or parent.is_reply:
            raise SlackError("thread_not_found")
        return parent

    def update_message(
        self,
        channel_ref: str,
        ts: str,
        *,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        by: str | None = None,
    ) -> Message:
        """Edit a message; only its author may (`cant_update_message`)."""
        with self.lock:
            ch = self.channel(channel_ref)
            msg = self.message(ch.id, ts)
            if msg is None:
                raise SlackError("message_not_found")
            editor = by or self.bot_user_id
            if msg.user != editor:
                raise SlackError("cant_update_message")
            if text is not None:
                msg.text = text
            if blocks is not None:
                msg.blocks = copy.deepcopy(blocks)
            msg.edited = {"user": editor, "ts": self.next_ts()}
            self.changed()
            return msg

    def delete_message(self, channel_ref: str, ts: str) -> None:
        """Remove a message (response_url `delete_original`)."""
        with self.lock:
            ch = self.channel(channel_ref)
            msg = self.message(ch.id, ts)
            if msg is None:
                raise SlackError("message_not_found")
            self.messages[ch.id].remove(msg)
            if msg.is_reply and (parent := self.message(ch.id, str(msg.thread_ts))):
                parent.replies.remove(ts)
            self.changed()

    def history(self, channel_ref: str) -> list[Message]:
        """Top-level messages (and broadcast replies), oldest first."""
        with self.lock:
            ch = self.channel(channel_ref)
            return [m for m in self.messages[ch.id] if not m.is_reply or m.reply_broadcast]

    def thread(self, channel_ref: str, thread_ts: str) -> list[Message]:
        """A thread: the parent, then its replies oldest first; `thread_not_found` if none."""
        with self.lock:
            ch = self.channel(channel_ref)
            parent = self.message(ch.id, thread_ts)
            if parent is None:
                raise SlackError("thread_not_found")
            if parent.is_reply:
                parent = self.message(ch.id, str(parent.thread_ts))
                assert parent is not None
            return [parent] + [m for ts in parent.replies if (m := self.message(ch.id, ts))]

    def post_ephemeral(
        self,
        channel_ref: str,
        user: str,
        *,
        text: str = "",
        blocks: list[dict[str, Any]] | None = None,
        via: str = "api",
        thread_ts: str | None = None,
    ) -> Ephemeral:
        """Store a message only `user` sees."""
        with self.lock:
            ch = self.channel(channel_ref)
            self.user(user)
            eph = Ephemeral(
                ch.id, user, self.next_ts(), text, copy.deepcopy(blocks or []), via, thread_ts
            )
            self.ephemerals.append(eph)
            self.changed()
            return eph

    def delete_ephemeral(self, ts: str) -> None:
        """Remove an ephemeral message (response_url `delete_original`)."""
        with self.lock:
            self.ephemerals = [e for e in self.ephemerals if e.ts != ts]
            self.changed()

    def replace_ephemeral(self, ts: str, *, text: str, blocks: list[dict[str, Any]]) -> None:
        """Rewrite an ephemeral message in place (response_url `replace_original`)."""
        with self.lock:
            for e in self.ephemerals:
                if e.ts == ts:
                    e.text, e.blocks = text, copy.deepcopy(blocks)
            self.changed()

    def ephemerals_for(self, user: str, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages shown to `user`, oldest first."""
        with self.lock:
            return [
                e
                for e in self.ephemerals
                if e.user == user and (channel is None or e.channel == channel)
            ]

    # -- Socket Mode -----------------------------------------------------------------

    def open_socket_connection(self) -> str:
        """apps.connections.open: a WebSocket URL with a one-time ticket."""
        with self.lock:
            if self.socket_mode_url is None:
                raise SlackError("socket_mode_not_enabled")
            ticket = secrets.token_hex(16)
            self._socket_tickets.add(ticket)
            return f"{self.socket_mode_url}?ticket={ticket}&app_id={APP_ID}"

    def take_socket_ticket(self, ticket: str) -> bool:
        """True once for each ticket handed out."""
        with self.lock:
            if ticket in self._socket_tickets:
                self._socket_tickets.remove(ticket)
                return True
            return False

    # -- trigger_ids and response_urls -------------------------------------------

    def mint_trigger(self, user: str, *, view_id: str | None = None) -> str:
        """A fresh trigger_id for an interaction by `user` (from inside `view_id`, if any)."""
        with self.lock:
            tid = f"{int(self.clock())}.{next(self._ids)}.{secrets.token_hex(8)}"
            self.triggers[tid] = Trigger(tid, user, self.clock(), view_id)
            return tid

    def use_trigger(self, trigger_id: str) -> Trigger:
        """Exchange a trigger_id: once only, within 3 s."""
        with self.lock:
            trig = self.triggers.get(trigger_id)
            if trig is None:
                raise SlackError("invalid_trigger_id")
            if trig.used:
                raise SlackError("exchanged_trigger_id")
            if self.clock() - trig.created_at > TRIGGER_TTL_S:
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
    ) -> str:
        """A fresh response_url token tied to a channel, a user and maybe the source message."""
        with self.lock:
            token = secrets.token_urlsafe(18)
            self.response_urls[token] = ResponseUrl(
                token, channel, user, self.clock(), message_ts, is_ephemeral
            )
            return token

    def use_response_url(self, token: str) -> ResponseUrl:
        """Spend one use of a response_url: 5 uses within 30 minutes."""
        with self.lock:
            rurl = self.response_urls.get(token)
            if rurl is None:
                raise SlackError("invalid_url")
            if self.clock() - rurl.created_at > RESPONSE_URL_TTL_S:
                raise SlackError("expired_url")
            if rurl.uses >= RESPONSE_URL_MAX_USES:
                raise SlackError("used_url")
            rurl.uses += 1
            return rurl

    # -- views -------------------------------------------------------------------

    def _new_view(self, user: str, view: dict[str, Any], **kw: Any) -> View:
        vid = f"V{next(self._ids):010d}"
        v = View(vid, user, copy.deepcopy(view), self._new_hash(), **kw)
        self.views[vid] = v
        self.changed()
        return v

    def _new_hash(self) -> str:
        return f"{self.clock():.6f}.{secrets.token_hex(4)}"

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> View:
        """views.open: exchange the trigger and open a new modal stack."""
        with self.lock:
            trig = self.use_trigger(trigger_id)
            return self._new_view(trig.user, view)

    def push_view(self, trigger_id: str, view: dict[str, Any]) -> View:
        """views.push: put a modal on top of the user's open stack (3 at most)."""
        with self.lock:
            trig = self.use_trigger(trigger_id)
            top = self.views.get(trig.view_id) if trig.view_id else self.top_view(trig.user)
            if top is None or top.closed:
                raise SlackError("not_found")
            root_id = top.root_view_id or top.id
            if len(self.view_stack(root_id)) >= VIEW_STACK_LIMIT:
                raise SlackError("push_limit_reached")
            return self._new_view(trig.user, view, root_view_id=root_id, previous_view_id=top.id)

    def find_view(self, view_id: str | None = None, external_id: str | None = None) -> View:
        """A modal or home view by id or external_id, or `not_found`."""
        with self.lock:
            for v in self.views.values():
                wanted = (view_id and v.id == view_id) or (
                    external_id and v.external_id == external_id
                )
                if wanted and not v.closed:
                    return v
            raise SlackError("not_found")

    def update_view(
        self,
        view: dict[str, Any],
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        hash: str | None = None,
    ) -> View:
        """views.update: replace a view's content when `hash` (if given) still matches."""
        with self.lock:
            v = self.find_view(view_id, external_id)
            if hash is not None and hash != v.hash:
                raise SlackError("hash_conflict")
            v.view = copy.deepcopy(view)
            v.hash = self._new_hash()
            v.errors = {}
            self.changed()
            return v

    def publish_home(self, user: str, view: dict[str, Any], *, hash: str | None = None) -> View:
        """views.publish: set a user's Home tab."""
        with self.lock:
            self.user(user)
            current = self.home_views.get(user)
            if current is not None and hash is not None and hash != current.hash:
                raise SlackError("hash_conflict")
            if current is None:
                current = self._new_view(user, view)
            else:
                current.view = copy.deepcopy(view)
                current.hash = self._new_hash()
            self.home_views[user] = current
            self.changed()
            return current

    def view_stack(self, root_view_id: str) -> list[View]:
        """The open modals of one stack, bottom first."""
        with self.lock:
            return [
                v
                for v in self.views.values()
                if not v.closed and (v.root_view_id or v.id) == root_view_id and v.type == "modal"
            ]

    def top_view(self, user: str) -> View | None:
        """The modal the user is looking at, if any."""
        with self.lock:
            modals = [v for v in self.views.values() if v.user == user and v.type == "modal"]
            open_ = [v for v in modals if not v.closed]
            return open_[-1] if open_ else None

    def close_view(self, view_id: str, *, clear: bool = False) -> None:
        """Close one modal, or (clear) its whole stack, as after a submission."""
        with self.lock:
            v = self.find_view(view_id)
            targets = self.view_stack(v.root_view_id or v.id) if clear else [v]
            for t in targets:
                t.closed = True
            self.changed()

    def set_view_errors(self, view_id: str, errors: dict[str, str]) -> None:
        """Keep the field errors of a `response_action: errors` answer for the page to show."""
        with self.lock:
            self.find_view(view_id).errors = dict(errors)
            self.changed()

    # -- rate limits and call log ------------------------------------------------

    def arm_ratelimit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Make the next `times` calls of `method` answer HTTP 429 with Retry-After."""
        with self.lock:
            self.ratelimits[method] = RateLimit(retry_after, times)

    def take_ratelimit(self, method: str) -> int | None:
        """Retry-After seconds if this call is rate limited, spending one armed 429."""
        with self.lock:
            rl = self.ratelimits.get(method)
            if rl is None or rl.times <= 0:
                return None
            rl.times -= 1
            return rl.retry_after

    def record_call(self, method: str, params: dict[str, Any]) -> None:
        """Keep every Web API call so tests can assert on what the app sent."""
        with self.lock:
            self.calls.append((method, copy.deepcopy(params)))

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The params of every call of `method`, in order."""
        with self.lock:
            return [p for m, p in self.calls if m == method]

    # -- snapshot ----------------------------------------------------------------

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
