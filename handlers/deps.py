"""What the listeners need, handed in by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from disputes.intake import IntakeService
from disputes.service import DisputeService
from handlers.threads import ThreadPublisher


@dataclass(frozen=True, slots=True)
class Deps:
    disputes: DisputeService
    intake: IntakeService
    threads: ThreadPublisher
    # Runs slow work after the ack on a bounded pool of workers.
    submit: Callable[[Callable[[], Awaitable[None]]], None]
