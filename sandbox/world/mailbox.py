"""An SMTP sink on loopback that keeps what it receives in memory: the customer's inbox."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
from datetime import UTC, datetime
from typing import Any, NamedTuple

from aiosmtpd.smtp import SMTP, Envelope, Session


class Mail(NamedTuple):
    sender: str
    to: tuple[str, ...]
    subject: str
    body: str
    received_at: datetime


class Mailbox:
    """aiosmtpd on 127.0.0.1 in the running loop; `messages` in arrival order."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.messages: list[Mail] = []
        self._server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        """The CUSTOMER_CHANNEL value: smtp://127.0.0.1:PORT"""
        if self.port is None:
            raise RuntimeError("the mailbox is not running")
        return f"smtp://{self.host}:{self.port}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        message = email.message_from_bytes(data, policy=email.policy.default)
        part: Any = message.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        self.messages.append(
            Mail(
                sender=str(envelope.mail_from or message.get("From", "")),
                to=tuple(envelope.rcpt_tos),
                subject=str(message.get("Subject", "")),
                body=str(body),
                received_at=datetime.now(UTC),
            )
        )
        return "250 Message accepted for delivery"

    async def start(self) -> Mailbox:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="dispute-desk-sandbox"),
            host=self.host,
            port=self._requested_port,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 5)
        self.port = None

    async def __aenter__(self) -> Mailbox:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
