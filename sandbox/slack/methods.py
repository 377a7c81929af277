"""The Slack Web API's methods, each answering for a Workspace: what a call does and answers
(`METHODS`); `api.py` serves them over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from sandbox.slack.blockkit import validate_message, validate_view
from sandbox.slack.workspace import APP_ID, TEAM_DOMAIN, SlackError, Workspace

Params = dict[str, Any]
Handler = Callable[[Workspace, Params, Request], Params]


def flag(value: Any) -> bool:
    """A boolean argument as Slack reads it: true, or "1" / "true" in a form."""
    return value is True or str(value).lower() in ("1", "true")


def _require(params: Params, *names: str) -> None:
    missing = [n for n in names if params.get(n) in (None, "")]
    if missing:
        raise SlackError(
            "invalid_arguments",
            response_metadata={
                "messages": [f"[ERROR] missing required field: {n}" for n in missing]
            },
        )


def _member_channel(ws: Workspace, params: Params):
    _require(params, "channel")
    ch = ws.channel(str(params["channel"]))
    if ws.bot_user_id not in ch.members:
        raise SlackError("not_in_channel")
    return ch


def _message_errors(text: Any, blocks: Any) -> None:
    errors = validate_message(text, blocks)
    if errors:
        error = "msg_too_long" if errors[0].endswith("[json-pointer:/text]") else "invalid_blocks"
        raise SlackError(error, errors=errors, response_metadata={"messages": errors})


def auth_test(ws: Workspace, params: Params, request: Request) -> Params:
    """auth.test"""
    return {
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": "Sandbox",
        "user": ws.users[ws.bot_user_id].name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": APP_ID,
        "is_enterprise_install": False,
    }


def apps_connections_open(ws: Workspace, params: Params, request: Request) -> Params:
    """apps.connections.open (app-level token): where to open a Socket Mode connection."""
    return {"url": ws.open_socket_connection()}


def chat_post_message(ws: Workspace, params: Params, request: Request) -> Params:
    """chat.postMessage"""
    ch = _member_channel(ws, params)
    text, blocks = params.get("text") or "", params.get("blocks") or []
    if not text and not blocks:
        raise SlackError("no_text")
    _message_errors(text, blocks)
    thread_ts = params.get("thread_ts") or None
    _check_metadata(params.get("metadata"))
    msg = ws.post_message(
        ch.id,
        text=text,
        blocks=blocks,
        thread_ts=str(thread_ts) if thread_ts else None,
        reply_broadcast=flag(params.get("reply_broadcast")),
        metadata=params.get("metadata"),
    )
    return {"channel": ch.id, "ts": msg.ts, "message": msg.to_slack(ws)}


def _check_metadata(metadata: Any) -> None:
    """Message metadata as Slack takes it: an `event_type` and an `event_payload` object."""
    if metadata is None:
        return
    if not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and metadata["event_type"]
        and isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_format")


def chat_update(ws: Workspace, params: Params, request: Request) -> Params:
    """chat.update"""
    _require(params, "channel", "ts")
    ch = ws.channel(str(params["channel"]))
    text, blocks = params.get("text"), params.get("blocks")
    _message_errors(text, blocks)
    msg = ws.update_message(ch.id, str(params["ts"]), text=text, blocks=blocks)
    return {"channel": ch.id, "ts": msg.ts, "text": msg.text, "message": msg.to_slack(ws)}


def chat_post_ephemeral(ws: Workspace, params: Params, request: Request) -> Params:
    """chat.postEphemeral"""
    _require(params, "channel", "user")
    ch = _member_channel(ws, params)
    text, blocks = params.get("text") or "", params.get("blocks") or []
    if not text and not blocks:
        raise SlackError("no_text")
    _message_errors(text, blocks)
    eph = ws.post_ephemeral(
        ch.id, str(params["user"]), text=text, blocks=blocks, thread_ts=params.get("thread_ts")
    )
    return {"message_ts": eph.ts}


def chat_get_permalink(ws: Workspace, params: Params, request: Request) -> Params:
    """chat.getPermalink"""
    _require(params, "channel", "message_ts")
    ch = ws.channel(str(params["channel"]))
    msg = ws.message(ch.id, str(params["message_ts"]))
    if msg is None:
        raise SlackError("message_not_found")
    base = str(request.base_url).rstrip("/")
    link = f"{base}/archives/{ch.id}/p{msg.ts.replace('.', '')}"
    if msg.is_reply:
        link += f"?thread_ts={msg.thread_ts}&cid={ch.id}"
    return {"channel": ch.id, "permalink": link}


def _im(ws: Workspace, ch: Any) -> Params:
    """A DM with the bot as conversations.info answers it (Slack's `im` object)."""
    return {
        "id": ch.id,
        "created": ch.created,
        "is_im": True,
        "is_org_shared": False,
        "context_team_id": ws.team_id,
        "user": ws.dm_users[ch.id],
        "is_user_deleted": False,
        "priority": 0,
    }


def _conversation(ws: Workspace, ch: Any) -> Params:
    return _im(ws, ch) if ws.is_dm(ch.id) else ch.to_slack(ws.bot_user_id)


def conversations_info(ws: Workspace, params: Params, request: Request) -> Params:
    """conversations.info (channels, and DMs with the bot as `im` objects)"""
    _require(params, "channel")
    return {"channel": _conversation(ws, ws.channel(str(params["channel"])))}


def conversations_join(ws: Workspace, params: Params, request: Request) -> Params:
    """conversations.join"""
    _require(params, "channel")
    if ws.is_dm(ws.channel(str(params["channel"])).id):
        raise SlackError("method_not_supported_for_channel_type")
    ch, already = ws.join(str(params["channel"]), ws.bot_user_id)
    out: Params = {"channel": ch.to_slack(ws.bot_user_id)}
    if already:
        out.update(
            warning="already_in_channel", response_metadata={"warnings": ["already_in_channel"]}
        )
    return out


def conversations_list(ws: Workspace, params: Params, request: Request) -> Params:
    """conversations.list (public and private channels; cursor is an offset)"""
    types = set(str(params.get("types") or "public_channel").split(","))
    with ws.lock:
        channels = [
            c
            for c in ws.channels.values()
            if ("im" if ws.is_dm(c.id) else "private_channel" if c.is_private else "public_channel")
            in types
        ]
    limit = int(params.get("limit") or 100) or 100
    start = int(params.get("cursor") or 0)
    page = channels[start : start + limit]
    nxt = str(start + limit) if start + limit < len(channels) else ""
    return {
        "channels": [_conversation(ws, c) for c in page],
        "response_metadata": {"next_cursor": nxt},
    }


def _window(params: Params, messages: list[Any]) -> list[Any]:
    oldest, latest = float(params.get("oldest") or 0), params.get("latest")
    inclusive = flag(params.get("inclusive"))

    def inside(ts: str) -> bool:
        t = float(ts)
        low = t >= oldest if inclusive else t > oldest
        high = latest is None or (t <= float(latest) if inclusive else t < float(latest))
        return low and high

    return [m for m in messages if inside(m.ts)]


def _listed(ws: Workspace, message: Any, params: Params) -> Params:
    """A message as history and replies list it: its metadata only when asked for."""
    out = message.to_slack(ws)
    if not flag(params.get("include_all_metadata")):
        out.pop("metadata", None)
    return out


def conversations_history(ws: Workspace, params: Params, request: Request) -> Params:
    """conversations.history (newest first, like Slack)"""
    ch = _member_channel(ws, params)
    msgs = list(reversed(_window(params, ws.history(ch.id))))
    limit = int(params.get("limit") or 100) or 100
    return {
        "messages": [_listed(ws, m, params) for m in msgs[:limit]],
        "has_more": len(msgs) > limit,
        "pin_count": 0,
        "response_metadata": {"next_cursor": ""},
    }


def conversations_replies(ws: Workspace, params: Params, request: Request) -> Params:
    """conversations.replies (the parent first, then replies oldest first)"""
    _require(params, "ts")
    ch = _member_channel(ws, params)
    msgs = ws.thread(ch.id, str(params["ts"]))
    rest = _window(params, msgs[1:]) if params.get("oldest") or params.get("latest") else msgs[1:]
    return {
        "messages": [_listed(ws, m, params) for m in [msgs[0], *rest]],
        "has_more": False,
        "response_metadata": {"next_cursor": ""},
    }


def users_info(ws: Workspace, params: Params, request: Request) -> Params:
    """users.info"""
    _require(params, "user")
    return {"user": ws.user(str(params["user"])).to_slack()}


def usergroups_users_list(ws: Workspace, params: Params, request: Request) -> Params:
    """usergroups.users.list"""
    _require(params, "usergroup")
    return {"users": list(ws.usergroup(str(params["usergroup"])).users)}


def files_info(ws: Workspace, params: Params, request: Request) -> Params:
    """files.info, with where the file is shared: public channels (`channels`), private ones
    (`groups`) and direct messages (`ims`), as Slack lists them."""
    _require(params, "file")
    f = ws.file(str(params["file"]))
    places: dict[str, list[str]] = {"channels": [], "groups": [], "ims": []}
    with ws.lock:
        for channel_id in sorted(f.shared_in):
            if ws.is_dm(channel_id):
                places["ims"].append(channel_id)
            elif ws.channels[channel_id].is_private:
                places["groups"].append(channel_id)
            else:
                places["channels"].append(channel_id)
    return {
        "file": f.to_slack(ws.base_url) | places,
        "comments": [],
        "response_metadata": {"next_cursor": ""},
    }


def _invalid(message: str) -> SlackError:
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {message}"]})


def _length(value: Any) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) <= 0:
        raise _invalid("length must be a positive integer [json-pointer:/length]")
    return int(text)


def files_get_upload_url_external(ws: Workspace, params: Params, request: Request) -> Params:
    """files.getUploadURLExternal: reserve a file id and a one-time URL for its bytes."""
    _require(params, "filename", "length")
    pending = ws.reserve_upload(str(params["filename"]), _length(params["length"]))
    return {"upload_url": ws.upload_url(pending), "file_id": pending.file_id}


def _upload_items(value: Any) -> list[tuple[str, str | None]]:
    if not isinstance(value, list) or not value:
        raise _invalid("files must be a non-empty array [json-pointer:/files]")
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise _invalid(f"files[{i}] needs an id [json-pointer:/files/{i}/id]")
        title = item.get("title")
        items.append((item["id"], str(title) if title else None))
    return items


def files_complete_upload_external(ws: Workspace, params: Params, request: Request) -> Params:
    """files.completeUploadExternal: the uploaded files become the bot's, shared with one
    message per channel (`channel_id` or `channels`, maybe in a thread); answers only id and
    title, as Slack does."""
    _require(params, "files")
    items = _upload_items(params["files"])
    refs = str(params.get("channel_id") or params.get("channels") or "")
    channels = [c.strip() for c in refs.split(",") if c.strip()]
    thread_ts = str(params.get("thread_ts") or "") or None
    if thread_ts and len(channels) != 1:
        raise _invalid("thread_ts needs exactly one channel [json-pointer:/thread_ts]")
    text = str(params.get("initial_comment") or "")
    _message_errors(text, [])
    made = ws.complete_uploads(items, channels, thread_ts=thread_ts, text=text)
    return {"files": [{"id": f.id, "title": f.title} for f in made]}


def _view_arg(params: Params, *, surface: str | None = None) -> dict[str, Any]:
    _require(params, "view")
    view = params["view"]
    errors = validate_view(view)
    if not errors and surface and view.get("type") != surface:
        errors = [f"[ERROR] must be {surface} [json-pointer:/view/type]"]
    if errors:
        raise SlackError("invalid_arguments", response_metadata={"messages": errors})
    return view


def views_open(ws: Workspace, params: Params, request: Request) -> Params:
    """views.open"""
    _require(params, "trigger_id")
    view = _view_arg(params, surface="modal")
    return {"view": ws.open_view(str(params["trigger_id"]), view).to_slack()}


def views_push(ws: Workspace, params: Params, request: Request) -> Params:
    """views.push"""
    _require(params, "trigger_id")
    view = _view_arg(params, surface="modal")
    return {"view": ws.push_view(str(params["trigger_id"]), view).to_slack()}


def views_update(ws: Workspace, params: Params, request: Request) -> Params:
    """views.update"""
    if not params.get("view_id") and not params.get("external_id"):
        _require(params, "view_id")
    view = _view_arg(params)
    updated = ws.update_view(
        view,
        view_id=params.get("view_id"),
        external_id=params.get("external_id"),
        hash=params.get("hash") or None,
    )
    return {"view": updated.to_slack()}


def views_publish(ws: Workspace, params: Params, request: Request) -> Params:
    """views.publish"""
    _require(params, "user_id")
    view = _view_arg(params, surface="home")
    home = ws.publish_home(str(params["user_id"]), view, hash=params.get("hash") or None)
    return {"view": home.to_slack()}


METHODS: dict[str, Handler] = {
    "apps.connections.open": apps_connections_open,
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.getPermalink": chat_get_permalink,
    "conversations.info": conversations_info,
    "conversations.join": conversations_join,
    "conversations.list": conversations_list,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "files.completeUploadExternal": files_complete_upload_external,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.info": files_info,
    "users.info": users_info,
    "usergroups.users.list": usergroups_users_list,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
}
