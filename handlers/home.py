"""The App Home tab, one per person: published when they open it, paged by its buttons, and
published again after a change to a dispute that concerns them."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from blocks.home import MAX_NAMED, PAGE_SIZE, HomeContent, HomePages, List, home_view
from blocks.ids import ActionId, Subject
from disputes.audit import Actor
from disputes.errors import DisputeError
from disputes.lifecycle import Status
from disputes.models import Dispute
from disputes.queues import QueuePage
from handlers.actions import action_value
from handlers.deps import Deps, acting_user
from handlers.errors import answering_errors, slack_error
from handlers.ownership import change_owner

log = logging.getLogger(__name__)
MAX_REMEMBERED = 5000  # people whose tab this process keeps up to date
# Every block of the tab carries an id starting so: its Take is answered on the tab.
ON_HOME = re.compile(r"^home\.")


@dataclass
class Seen:
    """What this process knows of one person's tab."""

    pages: HomePages = field(default_factory=HomePages)
    shown: frozenset[int] = frozenset()  # disputes in their own lists (queue, approvals)
    notice: str | None = None  # shown once, on the next publication


class HomeTabs:
    """Publishes each person's tab. After a change to a dispute, the tabs of the people it
    concerns (its owner, the person who changed it, anyone whose own lists showed it) are
    published again on the work queue, once for any number of changes queued meanwhile, and
    only for people who opened their tab since this process started."""

    def __init__(self, deps: Deps, client: AsyncWebClient) -> None:
        self.deps = deps
        self.client = client
        self.seen: OrderedDict[str, Seen] = OrderedDict()
        self.pending: set[str] = set()
        self.queued = False

    def opened(self, user_id: str, pages: HomePages | None = None) -> None:
        """`user_id` looks at their tab (on `pages`, when they moved to another page)."""
        seen = self.seen.pop(user_id, None) or Seen()
        self.seen[user_id] = replace(seen, pages=pages) if pages is not None else seen
        while len(self.seen) > MAX_REMEMBERED:
            self.seen.popitem(last=False)

    def changed(self, dispute: Dispute) -> None:
        """A dispute's status or owner moved: refresh the tabs of the people concerned."""
        concerned = {dispute.owner_id, acting_user.get()}
        concerned |= {user for user, seen in self.seen.items() if dispute.number in seen.shown}
        self.refresh(user for user in concerned if user is not None)

    def refresh(self, users: Iterable[str]) -> None:
        """Publish these people's tabs again soon (those who ever opened theirs)."""
        fresh = {user for user in users if user in self.seen}
        self.pending |= fresh
        if fresh and not self.queued:
            self.queued = True
            self.deps.submit(self._publish_pending, None)

    def answer(self, user_id: str) -> Callable[..., Awaitable[None]]:
        """A `respond` for a click on the tab: what it says (the app's own mrkdwn, as every
        answer is) is shown at the top of the tab."""

        async def respond(text: str = "", **_: Any) -> None:
            self.opened(user_id)
            self.seen[user_id].notice = text
            self.refresh([user_id])

        return respond

    async def _publish_pending(self) -> None:
        self.queued = False
        users, self.pending = self.pending, set()
        for user_id in sorted(users):
            try:
                await self.publish(user_id)
            except Exception:
                log.exception("the App Home of %s was not published again", user_id)

    async def publish(self, user_id: str) -> None:
        """Read and publish `user_id`'s tab."""
        self.opened(user_id)
        seen = self.seen[user_id]
        notice, seen.notice = seen.notice, None
        actor = await self.deps.actor(self.client, user_id)
        content = await self.content(actor, seen.pages, notice)
        seen.pages = content.pages
        seen.shown = frozenset(
            item.dispute.number for page in (content.mine, content.approvals) for item in page.items
        )
        try:
            await self.client.views_publish(user_id=user_id, view=home_view(content))
        except SlackApiError as exc:
            log.warning("App Home of %s not published: %s", user_id, slack_error(exc))

    async def content(self, actor: Actor, pages: HomePages, notice: str | None) -> HomeContent:
        queues = self.deps.queues
        if queues is None:
            raise DisputeError("Queues are not set up in this Dispute Desk.")

        async def mine(offset: int) -> QueuePage:
            return await queues.mine(actor.id, limit=PAGE_SIZE, offset=offset)

        async def approvals(offset: int) -> QueuePage:
            return await queues.approvals(actor, limit=PAGE_SIZE, offset=offset)

        async def unassigned(offset: int) -> QueuePage:
            return await queues.unassigned(limit=PAGE_SIZE, offset=offset)

        reads: dict[List, Callable[[int], Awaitable[QueuePage]]] = {
            "mine": mine,
            "approvals": approvals,
            "unassigned": unassigned,
        }
        lists = await asyncio.gather(*(_page(read, pages.of(name)) for name, read in reads.items()))
        mine_page, approvals_page, unassigned_page = lists
        team = await queues.team() if queues.sees_team(actor) else None
        failed = await self.deps.disputes.in_status(Status.EXECUTION_FAILED, MAX_NAMED)
        attention = await self.deps.disputes.in_status(Status.NEEDS_ATTENTION, MAX_NAMED)
        links = await self.deps.threads.links(i.dispute for page in lists for i in page.items)
        shown: dict[List, int] = {
            "mine": mine_page.offset // PAGE_SIZE,
            "approvals": approvals_page.offset // PAGE_SIZE,
            "unassigned": unassigned_page.offset // PAGE_SIZE,
        }
        return HomeContent(
            mine=mine_page,
            approvals=approvals_page,
            unassigned=unassigned_page,
            now=datetime.now(UTC),
            pages=HomePages(**shown),
            links=links,
            may_take=queues.may_take(actor),
            team=team,
            failed=failed,
            attention=attention,
            notice=notice,
        )


async def _page(read: Callable[[int], Awaitable[QueuePage]], page: int) -> QueuePage:
    """Page `page` of a list, or its last page when the list has become shorter."""
    found = await read(page * PAGE_SIZE)
    if not found.items and found.total and found.offset:
        found = await read((found.total - 1) // PAGE_SIZE * PAGE_SIZE)
    return found


def register(app: AsyncApp, deps: Deps) -> None:
    tabs = HomeTabs(deps, deps.threads.client)
    deps.threads.watchers.append(tabs.changed)

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("tab", "home") != "home":
            return
        user_id = event["user"]
        tabs.opened(user_id)
        deps.later(context, lambda: tabs.publish(user_id))

    @app.action(ActionId.HOME_PAGE.value)
    async def turn_page(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        pages, user_id = HomePages.decode(action_value(body)), body["user"]["id"]
        tabs.opened(user_id, pages)
        deps.later(context, lambda: tabs.publish(user_id))

    @app.action(ActionId.HOME_OPEN.value)
    async def open_thread(ack: AsyncAck) -> None:
        await ack()  # a link button: Slack opened the thread, nothing is left to do

    @app.action({"type": "block_actions", "action_id": ActionId.TAKE.value, "block_id": ON_HOME})
    async def take_on_home(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        number, user_id = Subject.decode(action_value(body)).dispute, body["user"]["id"]
        answer = tabs.answer(user_id)

        async def job() -> None:
            actor = await deps.actor(client, user_id)
            await answering_errors(answer, change_owner(deps, client, number, None, actor, answer))

        deps.later(context, job)
