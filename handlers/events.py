"""Files dropped into a dispute's thread become evidence."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncApp

from blocks.resolution import MAX_EVIDENCE_FILES
from disputes.audit import Actor
from handlers.deps import Deps
from handlers.errors import answering_errors
from handlers.files import complete_files, file_draft


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("message")
    async def thread_message(event: dict[str, Any], context: dict[str, Any]) -> None:
        files = event.get("files") or []
        thread_ts, channel = event.get("thread_ts"), event.get("channel")
        user_id = event.get("user")
        if not files or not thread_ts or not channel or not user_id:
            return
        if channel != deps.threads.channel_id:
            return

        async def job() -> None:
            number = await deps.disputes.by_thread(channel, thread_ts)
            if number is None:
                return
            shared = await complete_files(deps.threads.client, files[:MAX_EVIDENCE_FILES])
            drafts = [file_draft(file, user_id) for file in shared]
            if drafts and await deps.disputes.add_evidence_items(
                number, drafts, Actor.slack_user(user_id)
            ):
                await deps.threads.refresh(number)

        tell = partial(deps.threads.tell, user_id, thread_ts=thread_ts)
        deps.later(context, lambda: answering_errors(tell, job()))
