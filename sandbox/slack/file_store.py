"""The workspace's files: uploads kept for a person, who may see them, and the reservations of
Slack's three-step upload (files.getUploadURLExternal, the upload URL,
files.completeUploadExternal). Sharing a file in a conversation is the message store's."""

from __future__ import annotations

import secrets

from sandbox.slack.directory import Directory
from sandbox.slack.records import (
    MAX_FILE_BYTES,
    File,
    PendingUpload,
    SlackError,
    filetype_of,
    guess_mimetype,
    safe_file_name,
)
from sandbox.slack.shared import Shared


def _check_size(length: int) -> None:
    if length > MAX_FILE_BYTES:
        raise SlackError(
            "file_too_large", detail=f"files are limited to {MAX_FILE_BYTES // 2**20} MB"
        )


class FileStore:
    """Files by id, and uploads reserved but not yet completed."""

    def __init__(self, shared: Shared, directory: Directory, *, bot_user_id: str) -> None:
        self.shared = shared
        self.directory = directory
        self.bot_user_id = bot_user_id
        # Where the emulator serves this workspace (file URLs start here); the server sets it.
        self.base_url = ""
        self.files: dict[str, File] = {}
        # files.getUploadURLExternal reservations not yet completed, by file id.
        self.uploads: dict[str, PendingUpload] = {}

    def add_file(self, name: str, content: bytes, *, user: str, mimetype: str = "") -> File:
        """Keep an upload by `user` (10 MB at most, `file_too_large`); shared nowhere yet."""
        with self.shared.lock:
            self.directory.user(user)
            _check_size(len(content))
            return self._keep_file(self._new_file_id(), name, content, user=user, mimetype=mimetype)

    def _new_file_id(self) -> str:
        return f"F{self.shared.next_id():010X}"

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
            created=int(self.shared.clock()),
            content=bytes(content),
        )
        self.files[f.id] = f
        return f

    def file(self, file_id: str) -> File:
        """A file by id, or `file_not_found`."""
        with self.shared.lock:
            if file_id not in self.files:
                raise SlackError("file_not_found")
            return self.files[file_id]

    def may_see_file(self, file_id: str, user: str) -> bool:
        """Whether `user` may open the file: its uploader, anyone once it is in a public
        channel, or a member of a conversation it was shared in."""
        with self.shared.lock:
            f = self.files.get(file_id)
            if f is None:
                return False
            channels = self.directory.channels
            return (
                f.user == user
                or f.is_public
                or any(user in channels[c].members for c in f.shared_in)
            )

    # -- uploads (files.getUploadURLExternal, the upload URL, files.completeUploadExternal) --

    def reserve_upload(self, filename: str, length: int) -> PendingUpload:
        """A file id and a one-time upload token for `length` bytes (`file_too_large` over the
        limit); nothing exists until the bytes arrive and the upload is completed."""
        with self.shared.lock:
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
        with self.shared.lock:
            for pending in self.uploads.values():
                if pending.token == token and pending.content is None:
                    return pending
            return None

    def receive_upload(self, token: str, content: bytes) -> PendingUpload | None:
        """Keep the bytes posted to an upload URL; None when the token is unknown or spent."""
        with self.shared.lock:
            pending = self.open_upload(token)
            if pending is not None:
                pending.content = bytes(content)
            return pending

    def uploaded(self, file_id: str) -> PendingUpload:
        """A reservation whose bytes have arrived (`file_not_found`,
        `file_upload_not_complete`)."""
        pending = self.uploads.get(file_id)
        if pending is None:
            raise SlackError("file_not_found")
        if pending.content is None:
            raise SlackError("file_upload_not_complete")
        return pending

    def file_from_upload(self, pending: PendingUpload, title: str | None) -> File:
        """Turn a completed reservation into the bot's file."""
        del self.uploads[pending.file_id]
        content = pending.content or b""
        return self._keep_file(
            pending.file_id, pending.filename, content, user=self.bot_user_id, title=title
        )
