"""Slack files as evidence: a file shared in a dispute's thread or attached in a modal."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from domain.evidence import EvidenceDraft, EvidenceKind
from domain.text import clean_text

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = 30.0  # seconds to read one file (10 MB at most) from Slack
SLACK_FILE_HOST = "files.slack.com"
SLACK_API_URL = "https://slack.com/api/"
MAX_NAME_CHARS = 255


def file_name(file: dict[str, Any], *fields: str) -> str:
    """The first of `fields` the file object has, as clean text, or "file"."""
    for field in fields:
        value = file.get(field)
        if isinstance(value, str) and (name := clean_text(value).strip()):
            return name[:MAX_NAME_CHARS]
    return "file"


def token_may_go_to(url: str, api_url: str) -> bool:
    """Whether the bot token may be sent to `url`: only to Slack's file host over HTTPS, or
    to the host of the Web API the app is configured with (the sandbox in tests)."""
    try:
        target, api = httpx.URL(url), httpx.URL(api_url)
    except (httpx.InvalidURL, TypeError):
        return False
    if target.userinfo or not target.host:
        return False
    origin = (target.scheme, target.host, target.port)
    if origin in {("https", SLACK_FILE_HOST, None), ("https", SLACK_FILE_HOST, 443)}:
        return True
    return origin == (api.scheme, api.host, api.port)


def file_kind(file: dict[str, Any]) -> EvidenceKind:
    """Images are photos of the item; anything else is an attachment."""
    if str(file.get("mimetype") or "").startswith("image/"):
        return EvidenceKind.PROOF_OF_DAMAGE
    return EvidenceKind.ATTACHMENT


def file_draft(
    file: dict[str, Any],
    user_id: str,
    *,
    kind: EvidenceKind | None = None,
    note: str | None = None,
    link: str | None = None,
) -> EvidenceDraft:
    """One Slack file object as evidence, filed under `kind` (by default from its type) with
    the person's note (by default, who shared it) and a link they gave with it."""
    kind = kind or file_kind(file)
    name = file_name(file, "name", "title", "id")
    permalink = file.get("permalink") or file.get("url_private")
    mimetype = str(file.get("mimetype") or "")
    payload: dict[str, Any] = {
        "file_id": file.get("id"),
        "name": name,
        "mimetype": mimetype,
        "size": file.get("size"),
        "shared_by": user_id,
    }
    if note:
        payload["note"] = note
    if link:
        payload["link"] = link
    if mimetype.startswith("image/") and permalink:
        payload["photos"] = [permalink]
    summary = f"{note} ({name})" if note else f"{name} shared by <@{user_id}>"
    return EvidenceDraft(kind, f"slack:{user_id}", summary, payload, url=permalink)


HIDDEN_MODES = {"hidden_by_limit", "tombstone"}


async def complete_files(
    client: AsyncWebClient, files: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The files of a message event as full file objects: Slack sends only a stub for some
    (`file_access: check_file_info`, e.g. in Slack Connect channels) and the app must ask
    files.info; files hidden by the plan's limit or deleted are left out."""
    complete = []
    for file in files:
        if file.get("file_access") == "check_file_info" or not file.get("name"):
            file = (await client.files_info(file=str(file.get("id"))))["file"]
        if file.get("mode") not in HIDDEN_MODES:
            complete.append(file)
    return complete


class FileShareError(Exception):
    """A file could not be copied into the thread."""


async def share_files(
    client: AsyncWebClient,
    files: list[dict[str, Any]],
    *,
    channel: str,
    thread_ts: str,
    comment: str,
) -> list[dict[str, Any]]:
    """Copies of files attached in a modal, posted in the dispute's thread, so the whole team
    can open them (Slack keeps a modal's uploads private to the person who chose them). The
    app reads each file with its token (files:read) and uploads it again (files:write);
    returns the copies' file objects, in order."""
    uploads = []
    async with httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, follow_redirects=True) as http:
        for file in files:
            uploads.append(await download(http, client.token or "", file, api_url=client.base_url))
    done = await client.files_upload_v2(
        file_uploads=uploads, channel=channel, thread_ts=thread_ts, initial_comment=comment
    )
    return [(await client.files_info(file=entry["id"]))["file"] for entry in done["files"]]


async def download(
    http: httpx.AsyncClient, token: str, file: dict[str, Any], *, api_url: str = SLACK_API_URL
) -> dict[str, Any]:
    """One file's bytes, read with the bot token, as files_upload_v2 takes them. The token
    goes only to Slack's own file host (see `token_may_go_to`); a file elsewhere is not read."""
    name = file_name(file, "name", "id")
    url = file.get("url_private_download") or file.get("url_private")
    if not url or not isinstance(url, str):
        raise FileShareError(f"{name}: Slack gave no address to read it from")
    if not token_may_go_to(url, api_url):
        log.warning(
            "not reading file %r from %r: not a Slack file host", file.get("id"), _host(url)
        )
        raise FileShareError(f"{name}: its address is not on Slack's file host")
    response = await http.get(url, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    # Without access Slack answers with its sign-in page rather than an error.
    if response.headers.get("content-type", "").startswith("text/html") and not str(
        file.get("mimetype") or ""
    ).startswith("text/html"):
        raise FileShareError(f"{name}: Slack did not let the app read it (files:read)")
    title = file_name(file, "title", "name", "id")
    return {"content": response.content, "filename": name, "title": title}


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host
    except httpx.InvalidURL:
        return "?"
