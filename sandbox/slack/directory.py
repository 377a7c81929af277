"""Who and where: the workspace's members, user groups, channels, and each person's direct
message channel with the bot."""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.slack.records import Channel, SlackError, User, Usergroup
from sandbox.slack.shared import Shared


class Directory:
    """Members, user groups and channels (DMs with the bot included, opened on first use)."""

    def __init__(self, shared: Shared, *, bot_user_id: str) -> None:
        self.shared = shared
        self.bot_user_id = bot_user_id
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, Usergroup] = {}
        # Direct-message channels with the bot: channel id -> the person it is with.
        self.dm_users: dict[str, str] = {}

    def add_user(self, user: User) -> User:
        """Add or replace a member."""
        with self.shared.lock:
            self.users[user.id] = user
            return user

    def add_channel(self, channel: Channel) -> Channel:
        """Add or replace a channel."""
        with self.shared.lock:
            self.channels[channel.id] = channel
            self.shared.changed()
            return channel

    def add_usergroup(self, group_id: str, handle: str, users: Iterable[str]) -> Usergroup:
        """Add or replace a user group; every member must already be a user here."""
        with self.shared.lock:
            members = list(dict.fromkeys(users))
            for uid in members:
                self.user(uid)
            group = Usergroup(group_id, handle, members)
            self.usergroups[group_id] = group
            return group

    def usergroup(self, group_id: str) -> Usergroup:
        """A user group by id, or `no_such_subteam`."""
        with self.shared.lock:
            if group_id not in self.usergroups:
                raise SlackError("no_such_subteam")
            return self.usergroups[group_id]

    def user(self, user_id: str) -> User:
        """A member by id, or `user_not_found`."""
        with self.shared.lock:
            if user_id not in self.users:
                raise SlackError("user_not_found")
            return self.users[user_id]

    def channel(self, ref: str) -> Channel:
        """A channel by id, name or #name, or `channel_not_found`. A person's id or their DM id
        (`D0…`) answers their DM with the bot, opened on first use as Slack does."""
        with self.shared.lock:
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
        with self.shared.lock:
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
        with self.shared.lock:
            return channel_id in self.dm_users

    def join(self, channel_ref: str, user_id: str) -> tuple[Channel, bool]:
        """Add a member; returns the channel and whether they were already in it."""
        with self.shared.lock:
            ch = self.channel(channel_ref)
            already = user_id in ch.members
            ch.members.add(user_id)
            self.shared.changed()
            return ch, already
