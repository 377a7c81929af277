"""An SMTP sink on loopback that keeps what it receives in memory: the customer's inbox.

A mail sent again with a Message-ID already received is counted in `duplicates` and not kept
twice, as a mail client shows one message per id."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.message
import email.policy
import logging
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

from aiosmtpd.smtp import SMTP, Envelope, Session


class Mail(NamedTuple):
    sender: str
    to: tuple[str, ...]
    subject: str
    body: str  # the text part (the HTML one when there is no other)
    received_at: datetime
    html: str = ""
    message_id: str | None = None  # without angle brackets, like in_reply_to and references
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


class Mailbox:
    """aiosmtpd on 127.0.0.1 in the running loop; `messages` in arrival order."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.messages: list[Mail] = []
        self.duplicates = 0
        self._server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        """The CUSTOMER_CHANNEL value: smtp://127.0.0.1:PORT"""
        if self.port is None:
            raise RuntimeError("the mailbox is not running")
        return f"smtp://{self.host}:{self.port}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        # Lines end in LF once received, as a mail store keeps them (CRLF is the wire's).
        data = (raw if isinstance(raw, bytes) else raw.encode()).replace(b"\r\n", b"\n")
        message = email.message_from_bytes(data, policy=email.policy.default)
        message_id = _ids(message.get("Message-ID"))
        known = message_id and any(mail.message_id == message_id[0] for mail in self.messages)
        if known:
            self.duplicates += 1
            return "250 Message accepted for delivery"
        in_reply_to = _ids(message.get("In-Reply-To"))
        self.messages.append(
            Mail(
                sender=str(envelope.mail_from or message.get("From", "")),
                to=tuple(envelope.rcpt_tos),
                subject=str(message.get("Subject", "")),
                body=_part(message, ("plain", "html")),
                received_at=datetime.now(UTC),
                html=_part(message, ("html",)),
                message_id=message_id[0] if message_id else None,
                in_reply_to=in_reply_to[0] if in_reply_to else None,
                references=tuple(_ids(message.get("References"))),
            )
        )
        return "250 Message accepted for delivery"

    async def start(self) -> Mailbox:
        # aiosmtpd tells of every SMTP command at INFO: the sink's own log is the inbox.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
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


def _part(message: email.message.EmailMessage, preference: tuple[str, ...]) -> str:
    part: Any = message.get_body(preferencelist=preference)
    return str(part.get_content()) if part is not None else ""


def _ids(header: object) -> list[str]:
    """The message ids in a Message-ID, In-Reply-To or References header, without brackets."""
    text = " ".join(str(header or "").split())
    found = re.findall(r"<([^<>\s]+)>", text)
    return found or ([text] if text and " " not in text else [])
