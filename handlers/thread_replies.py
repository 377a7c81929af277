"""What a `message` event in the disputes channel is to the app: a person's reply in a thread
(a note, maybe with files), an edit or a deletion of one, or nothing to act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Subtypes of a person's own new message; every other subtype (bot_message, channel_join, …)
# is not a person talking in the thread.
PERSON_SUBTYPES = frozenset({"", "thread_broadcast", "file_share"})


@dataclass(frozen=True, slots=True)
class Reply:
    """A person's new message in a thread: its text (maybe empty) and the files dropped with it."""

    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str
    files: list[dict[str, Any]]
    # Who posted the thread's parent message, when Slack says (`parent_user_id`).
    parent_user: str = ""

    @property
    def at(self) -> datetime:
        return slack_time(self.ts)


@dataclass(frozen=True, slots=True)
class Edit:
    channel: str
    ts: str  # the edited message's
    text: str
    at: datetime
    # The reply as it was before, when Slack sends it: filed first if its own event is late.
    original: Reply | None = None


@dataclass(frozen=True, slots=True)
class Deletion:
    channel: str
    ts: str  # the deleted message's
    at: datetime
    original: Reply | None = None


def read_message_event(
    event: dict[str, Any], bot_user: str | None
) -> Reply | Edit | Deletion | None:
    """The event as a reply, an edit or a deletion; None for anything the app leaves alone:
    top-level messages, bots (the app itself included) and other subtypes."""
    subtype, channel = _text(event, "subtype"), _text(event, "channel")
    if not channel:
        return None
    if subtype == "message_changed":
        message = event.get("message")
        if not isinstance(message, dict) or _by_a_bot(message, bot_user):
            return None
        ts = _text(message, "ts")
        edited = message.get("edited")
        when = _text(edited, "ts") if isinstance(edited, dict) else ""
        at = slack_time(when or _text(event, "event_ts") or _text(event, "ts"))
        text = typed(_text(message, "text"))
        return Edit(channel, ts, text, at, _earlier(event, bot_user)) if ts else None
    if subtype == "message_deleted":
        ts = _text(event, "deleted_ts")
        at = slack_time(_text(event, "event_ts") or _text(event, "ts"))
        return Deletion(channel, ts, at, _earlier(event, bot_user)) if ts else None
    if subtype not in PERSON_SUBTYPES or _by_a_bot(event, bot_user):
        return None
    thread_ts, ts, user = _text(event, "thread_ts"), _text(event, "ts"), _text(event, "user")
    if not thread_ts or not ts or thread_ts == ts or not user:
        return None
    listed = event.get("files")
    files = [f for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
    text, parent = typed(_text(event, "text")), _text(event, "parent_user_id")
    return Reply(channel, thread_ts, ts, user, text, files, parent)


def _earlier(event: dict[str, Any], bot_user: str | None) -> Reply | None:
    """The `previous_message` of an edit or deletion, as the reply it was (None when it was
    no person's reply in a thread)."""
    before = event.get("previous_message")
    if not isinstance(before, dict) or _by_a_bot(before, bot_user):
        return None
    thread_ts, ts, user = _text(before, "thread_ts"), _text(before, "ts"), _text(before, "user")
    if not thread_ts or not ts or thread_ts == ts or not user:
        return None
    text, parent = typed(_text(before, "text")), _text(before, "parent_user_id")
    return Reply(_text(event, "channel"), thread_ts, ts, user, text, [], parent)


def typed(text: str) -> str:
    """A message's text as the person wrote it: Slack sends `&`, `<` and `>` as entities.
    Mentions and links stay in Slack's `<…>` form; shown again, they are escaped."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slack_time(ts: str) -> datetime:
    """A Slack timestamp ("1700000000.000100") as a UTC time; now when it is not one."""
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def _by_a_bot(message: dict[str, Any], bot_user: str | None) -> bool:
    return bool(
        message.get("bot_id")
        or _text(message, "subtype") == "bot_message"
        or (bot_user and _text(message, "user") == bot_user)
    )


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""
