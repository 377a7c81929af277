"""The App Home tab, published when a user opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from blocks.home import MAX_NAMED, home_view
from disputes.lifecycle import Status
from handlers.deps import Deps

HOME_LIMIT = 40


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("app_home_opened")
    async def home_opened(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        if event.get("tab", "home") != "home":
            return

        async def publish() -> None:
            actor = await deps.actor(client, event["user"])
            disputes = await deps.disputes.open_disputes_for(actor, HOME_LIMIT)
            failed = await deps.disputes.in_status(Status.EXECUTION_FAILED, MAX_NAMED)
            attention = await deps.disputes.in_status(Status.NEEDS_ATTENTION, MAX_NAMED)
            view = home_view(disputes, failed, attention)
            await client.views_publish(user_id=event["user"], view=view)

        deps.later(context, publish)
