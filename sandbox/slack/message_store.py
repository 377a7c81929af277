"""Conversations: messages and thread replies, edits and deletions, ephemeral messages, and
messages that carry files (a person's `file_share`, files.completeUploadExternal's post)."""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

from sandbox.slack.directory import Directory
from sandbox.slack.file_store import FileStore
from sandbox.slack.records import Ephemeral, File, Message, SlackError
from sandbox.slack.shared import Shared


class MessageStore:
    """Messages by channel id, oldest first, and the ephemeral messages people were shown."""

    def __init__(
        self,
        shared: Shared,
        directory: Directory,
        files: FileStore,
        *,
        bot_user_id: str,
        bot_id: str,
    ) -> None:
        self.shared = shared
        self.directory = directory
        self.files = files
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        # A channel's list appears with its first message (or first look).
        self.messages: defaultdict[str, list[Message]] = defaultdict(list)
        self.ephemerals: list[Ephemeral] = []
        self._last_ts = 0.0

    def next_ts(self) -> str:
        """A Slack-style ts, strictly increasing even when the clock stands still."""
        with self.shared.lock:
            now = round(self.shared.clock(), 6)
            self._last_ts = max(now, round(self._last_ts + 0.000001, 6))
            return f"{self._last_ts:.6f}"

    def message(self, channel_id: str, ts: str) -> Message | None:
        """The message (parent or reply) with this ts, if any."""
        with self.shared.lock:
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
        with self.shared.lock:
            ch = self.directory.channel(channel_ref)
            author = user or self.bot_user_id
            parent = self.thread_parent(ch.id, thread_ts)
            shared = [self.files.file(fid) for fid in files or []]
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
                f.is_public = f.is_public or not (ch.is_private or self.directory.is_dm(ch.id))
                f.shared_in.add(ch.id)
            if parent is not None:
                parent.thread_ts = parent.ts
                parent.replies.append(msg.ts)
            self.messages[ch.id].append(msg)
            self.shared.changed()
            return msg

    def thread_parent(self, channel_id: str, thread_ts: str | None) -> Message | None:
        """The top-level message a reply at `thread_ts` goes under (`thread_not_found`)."""
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
        with self.shared.lock:
            ch = self.directory.channel(channel_ref)
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
            self.shared.changed()
            return msg

    def delete_message(self, channel_ref: str, ts: str) -> None:
        """Remove a message (response_url `delete_original`)."""
        with self.shared.lock:
            ch = self.directory.channel(channel_ref)
            msg = self.message(ch.id, ts)
            if msg is None:
                raise SlackError("message_not_found")
            self.messages[ch.id].remove(msg)
            if msg.is_reply and (parent := self.message(ch.id, str(msg.thread_ts))):
                parent.replies.remove(ts)
            self.shared.changed()

    def history(self, channel_ref: str) -> list[Message]:
        """Top-level messages (and broadcast replies), oldest first."""
        with self.shared.lock:
            ch = self.directory.channel(channel_ref)
            return [m for m in self.messages[ch.id] if not m.is_reply or m.reply_broadcast]

    def thread(self, channel_ref: str, thread_ts: str) -> list[Message]:
        """A thread: the parent, then its replies oldest first; `thread_not_found` if none."""
        with self.shared.lock:
            ch = self.directory.channel(channel_ref)
            parent = self.message(ch.id, thread_ts)
            if parent is None:
                raise SlackError("thread_not_found")
            if parent.is_reply:
                parent = self.message(ch.id, str(parent.thread_ts))
                assert parent is not None
            return [parent] + [m for ts in parent.replies if (m := self.message(ch.id, ts))]

    # -- messages carrying files -----------------------------------------------------------

    def share_file(
        self,
        channel_ref: str,
        user: str,
        name: str,
        content: bytes,
        mimetype: str = "",
        *,
        thread_ts: str | None = None,
        text: str = "",
    ) -> Message:
        """Upload a file and post it as `user` in a channel or thread (a `file_share` message);
        nothing is kept when the channel or thread does not exist."""
        with self.shared.lock:
            ch = self.directory.channel(channel_ref)
            self.thread_parent(ch.id, thread_ts)
            f = self.files.add_file(name, content, user=user, mimetype=mimetype)
            return self.post_message(ch.id, text=text, user=user, thread_ts=thread_ts, files=[f.id])

    def complete_uploads(
        self,
        files: list[tuple[str, str | None]],
        channels: list[str],
        *,
        thread_ts: str | None = None,
        text: str = "",
    ) -> list[File]:
        """Turn uploaded reservations (id, title) into the bot's files and, for each channel,
        post one message carrying them all; nothing changes when any check fails."""
        with self.shared.lock:
            wanted = dict(files)
            ready = [self.files.uploaded(fid) for fid in wanted]
            targets = [self.directory.channel(ref) for ref in channels]
            for ch in targets:
                if self.bot_user_id not in ch.members:
                    raise SlackError("not_in_channel")
                self.thread_parent(ch.id, thread_ts)
            made = [self.files.file_from_upload(p, wanted[p.file_id]) for p in ready]
            for ch in targets:
                self.post_message(ch.id, text=text, thread_ts=thread_ts, files=[f.id for f in made])
            return made

    # -- ephemeral messages ----------------------------------------------------------------

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
        with self.shared.lock:
            ch = self.directory.channel(channel_ref)
            self.directory.user(user)
            eph = Ephemeral(
                ch.id, user, self.next_ts(), text, copy.deepcopy(blocks or []), via, thread_ts
            )
            self.ephemerals.append(eph)
            self.shared.changed()
            return eph

    def delete_ephemeral(self, ts: str) -> None:
        """Remove an ephemeral message (response_url `delete_original`)."""
        with self.shared.lock:
            self.ephemerals[:] = [e for e in self.ephemerals if e.ts != ts]
            self.shared.changed()

    def replace_ephemeral(self, ts: str, *, text: str, blocks: list[dict[str, Any]]) -> None:
        """Rewrite an ephemeral message in place (response_url `replace_original`)."""
        with self.shared.lock:
            for e in self.ephemerals:
                if e.ts == ts:
                    e.text, e.blocks = text, copy.deepcopy(blocks)
            self.shared.changed()

    def ephemerals_for(self, user: str, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages shown to `user`, oldest first."""
        with self.shared.lock:
            return [
                e
                for e in self.ephemerals
                if e.user == user and (channel is None or e.channel == channel)
            ]
