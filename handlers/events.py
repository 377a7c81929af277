"""Messages in the disputes channel: a person's reply in a dispute's thread is filed as a note,
its edits and deletion follow it; files dropped into the thread become evidence."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from domain.evidence import MAX_EVIDENCE_FILES
from handlers.deps import Deps
from handlers.errors import answering_errors
from handlers.files import complete_files, file_draft, file_kind
from handlers.thread_replies import Deletion, Edit, Reply, read_message_event


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("message")
    async def thread_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
        seen = read_message_event(event, context.bot_user_id)
        if seen is None or seen.channel != deps.threads.channel_id:
            return
        if isinstance(seen, Reply):
            tell = partial(deps.threads.tell, seen.user, thread_ts=seen.thread_ts)
            deps.later(context, lambda: answering_errors(tell, replied(deps, seen)))
        elif isinstance(seen, Edit):
            deps.later(context, lambda: edited(deps, seen))
        else:
            deps.later(context, lambda: deleted(deps, seen))


async def replied(deps: Deps, reply: Reply) -> None:
    """The reply's text as a note (whoever wrote it), then its files as evidence (for those
    whose role may add it)."""
    if deps.notes is not None and reply.text.strip():
        number = await deps.notes.file(
            reply.channel, reply.thread_ts, reply.ts, reply.user, reply.text, reply.at
        )
        if number is not None:
            await deps.threads.refresh(number)
    if reply.files:
        await file_evidence(deps, reply)


async def edited(deps: Deps, edit: Edit) -> None:
    # The cards show how many notes there are, not what they say: nothing to refresh, unless
    # the reply itself is filed here (its own event not handled yet).
    if deps.notes is None:
        return
    if await deps.notes.edit(edit.channel, edit.ts, edit.text, edit.at) is None:
        number = await file_late(deps, edit.original)
        if number is not None:
            await deps.notes.edit(edit.channel, edit.ts, edit.text, edit.at)
            await deps.threads.refresh(number)


async def deleted(deps: Deps, deletion: Deletion) -> None:
    if deps.notes is None:
        return
    number = await deps.notes.delete(deletion.channel, deletion.ts, deletion.at)
    if number is None and await file_late(deps, deletion.original) is not None:
        number = await deps.notes.delete(deletion.channel, deletion.ts, deletion.at)
    if number is not None:
        await deps.threads.refresh(number)


async def file_late(deps: Deps, original: Reply | None) -> int | None:
    """An edited or deleted reply whose own event has not been handled yet, filed as it was
    (its own event, handled later, finds it filed)."""
    if deps.notes is None or original is None or not original.text.strip():
        return None
    return await deps.notes.file(
        original.channel,
        original.thread_ts,
        original.ts,
        original.user,
        original.text,
        original.at,
    )


async def file_evidence(deps: Deps, reply: Reply) -> None:
    number = await deps.disputes.by_thread(reply.channel, reply.thread_ts)
    if number is None:
        return
    files = reply.files[:MAX_EVIDENCE_FILES]
    actor = await deps.actor(deps.threads.client, reply.user)
    await deps.disputes.check_evidence(
        number, actor, [file_kind(f) for f in files]
    )  # before reading
    shared = await complete_files(deps.threads.client, files)
    drafts = [file_draft(file, reply.user) for file in shared]
    if drafts and await deps.disputes.add_evidence_items(number, drafts, actor):
        await deps.threads.refresh(number)
