"""Slack's rate limits in a running app: the limited Web API client, and the thread outbox with
the locks that keep one dispute's thread updates in order across replicas."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler

from bot.metrics import record_ratelimited
from bot.settings import Settings
from disputes.case_files import DisputeService
from disputes.policy_decisions import PolicyService
from disputes.thread_locks import ThreadLocks
from disputes.thread_outbox import ThreadClaims, ThreadOutbox, ThreadTimings
from handlers.slack_client import LimitedWebClient, retry_after
from handlers.slack_limits import RateGate
from handlers.threads import ThreadPublisher
from storage.db import Database


def web_api_logger() -> logging.Logger:
    """The Web API client's logger (Bolt's per-request clients take it too): warnings and
    errors only, and never a request. The client reads the level set on the logger itself
    before each call; left unset, every call formats its whole request, blocks and customer
    names included, into a debug line that is then dropped."""
    logger = logging.getLogger("slack_sdk.web")
    logger.setLevel(logging.WARNING)
    return logger


def slack_client(settings: Settings) -> LimitedWebClient:
    """The Web API client every part of the app shares: 429s are waited out per method and
    channel (for at most SLACK_MAX_WAIT seconds), posts follow SLACK_POST_RATE when set."""
    gate = RateGate(
        retry_after, max_wait=settings.slack_max_wait, post_rate=settings.slack_post_rate
    )
    gate.counters.listeners.append(record_ratelimited)
    client = LimitedWebClient(
        gate=gate,
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        logger=web_api_logger(),
    )
    client.retry_handlers.append(AsyncConnectionErrorRetryHandler())
    return client


@dataclass
class ThreadPosting:
    """The thread outbox's loop and the thread locks' connections, started and closed with
    the app."""

    outbox: ThreadOutbox
    locks: ThreadLocks

    def start(self) -> None:
        self.outbox.start()

    async def aclose(self) -> None:
        await self.outbox.stop()
        await self.locks.aclose()


def thread_publisher(
    settings: Settings,
    db: Database,
    client: LimitedWebClient,
    channel_id: str,
    disputes: DisputeService,
    policy: PolicyService,
) -> tuple[ThreadPublisher, ThreadPosting]:
    """The publisher of dispute threads, and the outbox that posts the threads it could not."""
    wait = settings.slack_max_wait
    # A claim outlasts the longest a post of a thread and its two cards may wait on Slack.
    claims = ThreadClaims(db, ThreadTimings(lease=timedelta(seconds=4 * wait + 60)))
    locks = ThreadLocks(db, wait=4 * wait + 60)
    threads = ThreadPublisher(client, channel_id, disputes, policy, locks=locks, claims=claims)
    outbox = ThreadOutbox(claims, threads.post_claimed)
    threads.on_late = outbox.wake
    return threads, ThreadPosting(outbox, locks)
