"""The Bolt app: middleware and listeners wired in one place."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.dedupe import RecentKeys, dedupe_middleware
from handlers import (
    actions,
    add_evidence,
    alerts,
    commands,
    conversation,
    events,
    home,
    ownership,
    review,
)
from handlers.deps import Deps
from handlers.errors import user_message
from handlers.slack_client import LimitedWebClient, SharedRespond

log = logging.getLogger(__name__)


class WithoutRequestBodies(logging.Filter):
    """Bolt puts request bodies in some of its lines (an unhandled request, a failed
    signature, a middleware that did not answer): such a line keeps its first words only."""

    MARKERS = ("Unhandled request", "body", "for the request (")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(marker in message for marker in self.MARKERS):
            head = message.splitlines()[0].split("(", 1)[0].split(" body", 1)[0].strip()
            record.msg, record.args = f"{head} (request body not logged)", ()
        return True


def bolt_logger() -> logging.Logger:
    """The base of Bolt's loggers (each takes its level and filters when created): warnings
    and errors only, whatever the app's own level, and never a request body."""
    logger = logging.getLogger("slack_bolt")
    logger.setLevel(logging.WARNING)
    if not any(isinstance(f, WithoutRequestBodies) for f in logger.filters):
        logger.addFilter(WithoutRequestBodies())
    return logger


def build_bolt_app(
    *, client: AsyncWebClient, signing_secret: str | None, deps: Deps, recent: RecentKeys
) -> AsyncApp:
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,
        logger=bolt_logger(),
    )
    app.use(dedupe_middleware(recent))

    @app.use
    async def shared_client(context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> Any:
        # Bolt makes a plain client per request: listeners get the app's rate-limited one,
        # and answer on its HTTP session.
        context["client"] = client
        if context.response_url and isinstance(client, LimitedWebClient):
            context["respond"] = SharedRespond(context.response_url, client)
        return await next()

    commands.register(app, deps)
    home.register(app, deps)
    actions.register(app, deps)
    ownership.register(app, deps)
    alerts.register(app, deps)
    review.register(app, deps)
    add_evidence.register(app, deps)
    conversation.register(app, deps)
    events.register(app, deps)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any], respond: Any = None) -> None:
        message = user_message(error)
        if respond is not None and body.get("response_url"):
            await respond(text=message, response_type="ephemeral", replace_original=False)

    return app
