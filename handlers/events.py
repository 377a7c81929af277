"""Files dropped into a dispute's thread become evidence."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from domain.evidence import MAX_EVIDENCE_FILES
from handlers.deps import Deps
from handlers.errors import answering_errors
from handlers.files import complete_files, file_draft, file_kind


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("message")
    async def thread_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
        listed = event.get("files")
        files = [f for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
        thread_ts, channel = _text(event, "thread_ts"), _text(event, "channel")
        user_id = _text(event, "user")
        if not files or not thread_ts or not channel or not user_id:
            return
        if channel != deps.threads.channel_id:
            return

        async def job() -> None:
            number = await deps.disputes.by_thread(channel, thread_ts)
            if number is None:
                return
            actor = await deps.actor(deps.threads.client, user_id)
            kinds = [file_kind(file) for file in files[:MAX_EVIDENCE_FILES]]
            await deps.disputes.check_evidence(number, actor, kinds)  # before reading the files
            shared = await complete_files(deps.threads.client, files[:MAX_EVIDENCE_FILES])
            drafts = [file_draft(file, user_id) for file in shared]
            if drafts and await deps.disputes.add_evidence_items(number, drafts, actor):
                await deps.threads.refresh(number)

        tell = partial(deps.threads.tell, user_id, thread_ts=thread_ts)
        deps.later(context, lambda: answering_errors(tell, job()))


def _text(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    return value if isinstance(value, str) else ""
