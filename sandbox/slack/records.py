"""The records a sandbox workspace keeps: users, channels, messages, files, views, tokens."""

from __future__ import annotations

import copy
import mimetypes
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from sandbox.slack.workspace import Workspace

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "sandbox"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0SANDBOX"
BOT_TOKEN = "xoxb-sandbox"
APP_TOKEN = "xapp-1-A0SANDBOX-1-sandbox"  # app-level: Socket Mode only

TRIGGER_TTL_S = 3.0
RESPONSE_URL_TTL_S = 30 * 60.0
RESPONSE_URL_MAX_USES = 5
VIEW_STACK_LIMIT = 3
# Slack's limit for a file attached through a file_input; the emulator keeps files in memory.
MAX_FILE_BYTES = 10 * 1024 * 1024
# An upload's body: one file of at most MAX_FILE_BYTES, a few short fields and the boundaries.
MAX_UPLOAD_BODY = MAX_FILE_BYTES + 64 * 1024


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
class Usergroup:
    """A Slack user group (`@handle`), as `usergroups.users.list` sees it."""

    id: str
    handle: str
    users: list[str]


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
    files: list[str] = field(default_factory=list)

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
        if self.files and workspace is not None:
            out["files"] = [workspace.file(fid).to_slack(workspace.base_url) for fid in self.files]
            out.update(subtype="file_share", upload=True, display_as_bot=False)
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


# Slack's `filetype` for common extensions (the extension itself otherwise) and its label.
_FILETYPES = {
    "jpeg": "jpg",
    "txt": "text",
    "htm": "html",
    "md": "markdown",
    "yml": "yaml",
    "bin": "binary",
}
_PRETTY_TYPES = {
    "jpg": "JPEG",
    "text": "Plain Text",
    "markdown": "Markdown (raw)",
    "binary": "Binary",
    "zip": "Zip",
    "mp4": "MPEG 4 Video",
    "docx": "Word Document",
    "xlsx": "Excel Spreadsheet",
}


def safe_file_name(name: str) -> str:
    """The last path part of an uploaded name (browsers may send a path), never empty."""
    return PurePath(name.replace("\\", "/")).name.strip() or "file"


def guess_mimetype(name: str, mimetype: str = "") -> str:
    """The given mimetype, or one guessed from the name as Slack does for a bare upload."""
    if mimetype and mimetype != "application/octet-stream":
        return mimetype
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def filetype_of(name: str, mimetype: str) -> str:
    """Slack's short `filetype` (png, jpg, pdf, text, …), from the extension or the mimetype."""
    ext = PurePath(name).suffix.lstrip(".").lower()
    if not ext:
        ext = (mimetypes.guess_extension(mimetype) or "").lstrip(".")
    return _FILETYPES.get(ext, ext) or "binary"


@dataclass
class File:
    """An uploaded file and its bytes."""

    id: str
    name: str
    title: str
    mimetype: str
    filetype: str
    user: str
    created: int
    content: bytes = field(repr=False)
    # Slack makes a file public once it is shared in a public channel.
    is_public: bool = False
    # The conversations of the messages carrying it: their members may open its permalink.
    shared_in: set[str] = field(default_factory=set)

    @property
    def size(self) -> int:
        """The length in bytes."""
        return len(self.content)

    @property
    def pretty_type(self) -> str:
        """The label Slack shows for the type: PNG, PDF, Plain Text, …"""
        return _PRETTY_TYPES.get(self.filetype, self.filetype.upper())

    def urls(self, base_url: str) -> dict[str, str]:
        """Where the emulator at `base_url` serves it: private (token) URLs and the permalink."""
        name = quote(self.name)
        private = f"{base_url}/files-pri/{TEAM_ID}-{self.id}"
        return {
            "url_private": f"{private}/{name}",
            "url_private_download": f"{private}/download/{name}",
            "permalink": f"{base_url}/files/{self.user}/{self.id}/{name}",
        }

    def to_slack(self, base_url: str) -> dict[str, Any]:
        """The `file` object of files.info, messages and file_input state."""
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title,
            "mimetype": self.mimetype,
            "filetype": self.filetype,
            "pretty_type": self.pretty_type,
            "user": self.user,
            "user_team": TEAM_ID,
            "editable": False,
            "size": self.size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": self.is_public,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            **self.urls(base_url),
        }


@dataclass
class PendingUpload:
    """A file reserved by files.getUploadURLExternal: its one-time upload token, and the bytes
    once they are posted there; files.completeUploadExternal turns it into a File."""

    file_id: str
    token: str
    filename: str
    length: int
    content: bytes | None = field(default=None, repr=False)


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
    # A slash command's response_url: its "original" is the ack's ephemeral message, which the
    # page shows only once the app's HTTP answer is in. A replacement sent before that is kept
    # and shown in the ack's place.
    awaiting_ack: bool = False
    early: tuple[str, list[Any]] | None = None


@dataclass
class RateLimit:
    """An armed 429 for the next `times` calls of one method."""

    retry_after: int
    times: int
