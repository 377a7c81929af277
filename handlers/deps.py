"""What the listeners need, handed in by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from disputes.intake import IntakeService
from disputes.policy import PolicyService
from disputes.resolution import ResolutionService
from disputes.service import DisputeService
from handlers.threads import ThreadPublisher

Job = Callable[[], Awaitable[None]]


class RequestKey(NamedTuple):
    """Identifies one Slack request across retries and replays."""

    key: str
    kind: str


@dataclass(frozen=True, slots=True)
class Deps:
    disputes: DisputeService
    intake: IntakeService
    policy: PolicyService
    resolution: ResolutionService
    threads: ThreadPublisher
    # Runs `job` after the ack on a bounded pool of workers, once per request key.
    submit: Callable[[Job, RequestKey | None], None]
    # The Slack user groups (from the roles file) a user belongs to.
    groups_of: Callable[[Any, str], Awaitable[set[str]]]
    supervisors_channel: str | None = None

    def later(self, context: dict[str, Any], job: Job) -> None:
        """Queue `job` for the request in `context`; a duplicate of it never runs."""
        self.submit(job, context.get("request_key"))
