"""The Bolt app: middleware and listeners wired in one place."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.dedupe import RecentKeys, dedupe_middleware
from handlers import actions, commands, events, evidence, home, review
from handlers.deps import Deps
from handlers.errors import user_message

log = logging.getLogger(__name__)


def build_bolt_app(
    *, client: AsyncWebClient, signing_secret: str | None, deps: Deps, recent: RecentKeys
) -> AsyncApp:
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,
    )
    app.use(dedupe_middleware(recent))
    commands.register(app, deps)
    home.register(app, deps)
    actions.register(app, deps)
    review.register(app, deps)
    evidence.register(app, deps)
    events.register(app, deps)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any], respond: Any = None) -> None:
        message = user_message(error)
        if respond is not None and body.get("response_url"):
            await respond(text=message, response_type="ephemeral", replace_original=False)

    return app
