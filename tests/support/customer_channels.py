"""Customer channels for tests of the outbox: one that keeps what it was given, and one that
fails as it is told to."""

from __future__ import annotations

from connectors.customers.outbound import DeliveryError, OutgoingMessage


class RecordingChannel:
    """Delivers into `sent`; `failures` are raised first, one per send, in order."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.failures: list[BaseException] = []

    async def send(self, message: OutgoingMessage) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)

    def fail_next(self, reason: str = "connection refused", **kwargs: bool) -> None:
        self.failures.append(DeliveryError(reason, **kwargs))

    async def aclose(self) -> None:
        pass
