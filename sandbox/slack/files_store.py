"""The workspace's files: uploads kept for a person, files shared in messages, who may see
them, and Slack's three-step upload (files.getUploadURLExternal, the upload URL,
files.completeUploadExternal). A part of `Workspace`, which holds the state and the lock."""

from __future__ import annotations

import secrets
import threading
from typing import TYPE_CHECKING

from sandbox.slack.records import (
    MAX_FILE_BYTES,
    File,
    PendingUpload,
    SlackError,
    filetype_of,
    guess_mimetype,
    safe_file_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sandbox.slack.records import Channel, Message


def _check_size(length: int) -> None:
    if length > MAX_FILE_BYTES:
        raise SlackError(
            "file_too_large", detail=f"files are limited to {MAX_FILE_BYTES // 2**20} MB"
        )


class FileStore:
    """Files and uploads. Mixed into `Workspace`, whose `user`, `channel`, `post_message` and
    `_thread_parent` it calls."""

    lock: threading.RLock
    files: dict[str, File]
    uploads: dict[str, PendingUpload]
    channels: dict[str, Channel]
    base_url: str
    bot_user_id: str
    clock: Callable[[], float]
    _ids: Iterator[int]

    def add_file(self, name: str, content: bytes, *, user: str, mimetype: str = "") -> File:
        """Keep an upload by `user` (10 MB at most, `file_too_large`); shared nowhere yet."""
        with self.lock:
            self.user(user)
            _check_size(len(content))
            return self._keep_file(self._new_file_id(), name, content, user=user, mimetype=mimetype)

    def _new_file_id(self) -> str:
        return f"F{next(self._ids):010X}"

    def _keep_file(
        self,
        file_id: str,
        name: str,
        content: bytes,
        *,
        user: str,
        mimetype: str = "",
        title: str | None = None,
    ) -> File:
        name = safe_file_name(name)
        mimetype = guess_mimetype(name, mimetype)
        f = File(
            id=file_id,
            name=name,
            title=title or name,
            mimetype=mimetype,
            filetype=filetype_of(name, mimetype),
            user=user,
            created=int(self.clock()),
            content=bytes(content),
        )
        self.files[f.id] = f
        return f

    def file(self, file_id: str) -> File:
        """A file by id, or `file_not_found`."""
        with self.lock:
            if file_id not in self.files:
                raise SlackError("file_not_found")
            return self.files[file_id]

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
        with self.lock:
            ch = self.channel(channel_ref)
            self._thread_parent(ch.id, thread_ts)
            f = self.add_file(name, content, user=user, mimetype=mimetype)
            return self.post_message(ch.id, text=text, user=user, thread_ts=thread_ts, files=[f.id])

    def may_see_file(self, file_id: str, user: str) -> bool:
        """Whether `user` may open the file: its uploader, anyone once it is in a public
        channel, or a member of a conversation it was shared in."""
        with self.lock:
            f = self.files.get(file_id)
            if f is None:
                return False
            return (
                f.user == user
                or f.is_public
                or any(user in self.channels[c].members for c in f.shared_in)
            )

    # -- uploads (files.getUploadURLExternal, the upload URL, files.completeUploadExternal) --

    def reserve_upload(self, filename: str, length: int) -> PendingUpload:
        """A file id and a one-time upload token for `length` bytes (`file_too_large` over the
        limit); nothing exists until the bytes arrive and the upload is completed."""
        with self.lock:
            _check_size(length)
            pending = PendingUpload(
                self._new_file_id(), secrets.token_urlsafe(18), filename, length
            )
            self.uploads[pending.file_id] = pending
            return pending

    def upload_url(self, pending: PendingUpload) -> str:
        """Where the bytes of a reserved upload go (no token needed, like Slack's)."""
        return f"{self.base_url}/_upload/v1/{pending.token}"

    def open_upload(self, token: str) -> PendingUpload | None:
        """The reservation still waiting for its bytes at this token, if any."""
        with self.lock:
            for pending in self.uploads.values():
                if pending.token == token and pending.content is None:
                    return pending
            return None

    def receive_upload(self, token: str, content: bytes) -> PendingUpload | None:
        """Keep the bytes posted to an upload URL; None when the token is unknown or spent."""
        with self.lock:
            pending = self.open_upload(token)
            if pending is not None:
                pending.content = bytes(content)
            return pending

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
        with self.lock:
            wanted = dict(files)
            ready = [self._uploaded(fid) for fid in wanted]
            targets = [self.channel(ref) for ref in channels]
            for ch in targets:
                if self.bot_user_id not in ch.members:
                    raise SlackError("not_in_channel")
                self._thread_parent(ch.id, thread_ts)
            made = [self._file_from(p, wanted[p.file_id]) for p in ready]
            for ch in targets:
                self.post_message(ch.id, text=text, thread_ts=thread_ts, files=[f.id for f in made])
            return made

    def _uploaded(self, file_id: str) -> PendingUpload:
        pending = self.uploads.get(file_id)
        if pending is None:
            raise SlackError("file_not_found")
        if pending.content is None:
            raise SlackError("file_upload_not_complete")
        return pending

    def _file_from(self, pending: PendingUpload, title: str | None) -> File:
        del self.uploads[pending.file_id]
        content = pending.content or b""
        return self._keep_file(
            pending.file_id, pending.filename, content, user=self.bot_user_id, title=title
        )
