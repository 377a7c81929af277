"""Messages in the disputes channel: a person's reply in a dispute's thread is filed as a note,
its edits and deletion follow it; files dropped into the thread become evidence.

A new thread is recorded once its cards are posted, a moment after its parent message: a reply
in between is filed under the dispute the parent's mark names (`thread_marks`), so nothing said
in a thread is dropped however long the cards take."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from disputes.notes import NoteService
from domain.evidence import MAX_EVIDENCE_FILES
from handlers.deps import Deps
from handlers.errors import answering_errors
from handlers.files import complete_files, file_draft, file_kind
from handlers.thread_marks import marked_parent
from handlers.thread_replies import Deletion, Edit, Reply, read_message_event


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("message")
    async def thread_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
        bot = context.bot_user_id or ""
        seen = read_message_event(event, bot)
        if seen is None or seen.channel != deps.threads.channel_id:
            return
        if isinstance(seen, Reply):
            tell = partial(deps.threads.tell, seen.user, thread_ts=seen.thread_ts)
            deps.later(context, lambda: answering_errors(tell, replied(deps, seen, bot)))
        elif isinstance(seen, Edit):
            deps.later(context, lambda: edited(deps, seen, bot))
        else:
            deps.later(context, lambda: deleted(deps, seen, bot))


async def replied(deps: Deps, reply: Reply, bot: str) -> None:
    """The reply's text as a note (whoever wrote it), then its files as evidence (for those
    whose role may add it)."""
    notes = deps.notes if reply.text.strip() else None
    if notes is None and not reply.files:
        return
    number = await thread_dispute(deps, reply, bot)
    if number is None:
        return
    if notes is not None and await file_note(notes, number, reply) is not None:
        await deps.threads.refresh(number)
    if reply.files:
        await file_evidence(deps, number, reply)


async def thread_dispute(deps: Deps, reply: Reply, bot: str) -> int | None:
    """The dispute whose thread the reply is in: the thread recorded, or a parent message the
    app posted whose thread is not recorded yet (its cards on their way, or the process that
    posted it stopped); None for any other thread."""
    number = await deps.disputes.by_thread(reply.channel, reply.thread_ts)
    if number is not None or not bot or reply.parent_user not in ("", bot):
        return number
    return await marked_parent(deps.threads.client, reply.channel, reply.thread_ts, bot)


async def edited(deps: Deps, edit: Edit, bot: str) -> None:
    # The cards show how many notes there are, not what they say: nothing to refresh, unless
    # the reply itself is filed here (its own event not handled yet).
    if deps.notes is None:
        return
    if await deps.notes.edit(edit.channel, edit.ts, edit.text, edit.at) is None:
        number = await file_late(deps, edit.original, bot)
        if number is not None:
            await deps.notes.edit(edit.channel, edit.ts, edit.text, edit.at)
            await deps.threads.refresh(number)


async def deleted(deps: Deps, deletion: Deletion, bot: str) -> None:
    if deps.notes is None:
        return
    number = await deps.notes.delete(deletion.channel, deletion.ts, deletion.at)
    if number is None and await file_late(deps, deletion.original, bot) is not None:
        number = await deps.notes.delete(deletion.channel, deletion.ts, deletion.at)
    if number is not None:
        await deps.threads.refresh(number)


async def file_late(deps: Deps, original: Reply | None, bot: str) -> int | None:
    """An edited or deleted reply whose own event has not been handled yet, filed as it was
    (its own event, handled later, finds it filed)."""
    if deps.notes is None or original is None or not original.text.strip():
        return None
    number = await thread_dispute(deps, original, bot)
    return None if number is None else await file_note(deps.notes, number, original)


async def file_note(notes: NoteService, number: int, reply: Reply) -> int | None:
    return await notes.file(number, reply.channel, reply.ts, reply.user, reply.text, reply.at)


async def file_evidence(deps: Deps, number: int, reply: Reply) -> None:
    files = reply.files[:MAX_EVIDENCE_FILES]
    actor = await deps.actor(deps.threads.client, reply.user)
    await deps.disputes.check_evidence(
        number, actor, [file_kind(f) for f in files]
    )  # before reading
    shared = await complete_files(deps.threads.client, files)
    drafts = [file_draft(file, reply.user) for file in shared]
    if drafts and await deps.disputes.add_evidence_items(number, drafts, actor):
        await deps.threads.refresh(number)
