"""`smtp://[user:password@]host:port[?starttls=true]`: customer messages as email, through
aiosmtplib, one connection per message.

Each mail is `multipart/alternative` (the text, then `html_from_text` of it) with `Message-ID:
<message_id>`, the same on every resend, and `In-Reply-To` / `References` when the message
continues a conversation. What a failure means for the outbox:

- no connection (refused, unknown host, connect timeout), a 4xx answer, a lost connection, a
  failed login or STARTTLS before DATA: retryable, not sent;
- a 5xx for the recipient (RCPT) or for the message (DATA): not retryable, a person looks;
- a timeout or a lost connection once DATA was sent: retryable and maybe sent.

A refused login or sender is retryable: it is the server's configuration, not this message,
and once it is fixed the message goes out.
"""

from __future__ import annotations

import contextlib
import email.policy
import ipaddress
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from enum import Enum
from urllib.parse import parse_qsl, unquote, urlsplit

import aiosmtplib

from connectors.customers.outbound import DeliveryError, OutgoingMessage, html_from_text
from domain.masking import mask_email
from domain.text import clean_text

SMTP_FORM = "smtp://[user:password@]host:port[?starttls=true]"
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
_LONGEST_REPLY = 200
_QUIT_TIMEOUT = 2.0


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to hand mail over; the password never appears in its repr."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False

    @property
    def label(self) -> str:
        return f"SMTP server {self.host}:{self.port}"


def parse_smtp_url(value: str) -> SmtpServer:
    """The server a `smtp://` setting names; a `ValueError` that never shows the password."""
    value = value.strip()
    if any(char.isspace() or not char.isprintable() for char in value):
        raise ValueError(
            f"expected {SMTP_FORM} without spaces (percent-encode them in a user or password)"
        )
    parts = urlsplit(value)
    if parts.scheme.lower() != "smtp":
        raise ValueError(f"expected {SMTP_FORM}")
    host = parts.hostname
    try:
        port = parts.port
    except ValueError:
        port = None
    if not host:
        raise ValueError(f"expected {SMTP_FORM}: the host is missing")
    if port is None or port == 0:
        raise ValueError(f"expected {SMTP_FORM}: the port is missing or not a number")
    if parts.path not in {"", "/"} or parts.fragment:
        raise ValueError(f"expected {SMTP_FORM}: nothing may follow the port but ?starttls=")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ValueError(f"expected {SMTP_FORM}: a password needs a user")
    return SmtpServer(host, port, username, password, _starttls(parts.query))


def _starttls(query: str) -> bool:
    try:
        options = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        options = [("", "")]
    starttls = False
    for name, raw in options:
        if name.lower() != "starttls" or raw.lower() not in _TRUE | _FALSE:
            raise ValueError(f"expected {SMTP_FORM}: the only option is starttls=true or false")
        starttls = raw.lower() in _TRUE
    return starttls


class _Stage(Enum):
    CONNECT = "connecting"
    SENDER = "MAIL FROM"
    RECIPIENT = "RCPT TO"
    DATA = "DATA"


class SmtpChannel:
    """Hands each message to one SMTP server, in a connection of its own."""

    name = "smtp"

    def __init__(self, server: SmtpServer, *, sender: str, timeout: float = 10.0) -> None:
        self.server = server
        self.sender = _address(sender, "the sender")
        self.timeout = timeout

    @classmethod
    def from_url(cls, url: str, *, sender: str, timeout: float = 10.0) -> SmtpChannel:
        return cls(parse_smtp_url(url), sender=sender, timeout=timeout)

    async def send(self, message: OutgoingMessage) -> None:
        try:
            mail = build_mail(message, self.sender)
        except ValueError as exc:
            raise DeliveryError(f"{exc}; not sent", retryable=False) from None
        recipient: Address = mail["To"].addresses[0]
        needs_utf8 = not (self.sender.addr_spec.isascii() and recipient.addr_spec.isascii())
        policy = email.policy.SMTPUTF8 if needs_utf8 else email.policy.SMTP
        await self._hand_over(
            self.sender.addr_spec, recipient.addr_spec, mail.as_bytes(policy=policy), needs_utf8
        )

    async def aclose(self) -> None:
        return None  # no connection outlives a send

    async def _hand_over(self, sender: str, recipient: str, data: bytes, utf8: bool) -> None:
        client = aiosmtplib.SMTP(
            hostname=self.server.host,
            port=self.server.port,
            username=self.server.username,
            password=self.server.password,
            start_tls=self.server.starttls,
            local_hostname=_helo_name(self.sender.domain),
            timeout=self.timeout,
        )
        stage = _Stage.CONNECT
        try:
            await self._step(client.connect(), stage, recipient)
            options = ["SMTPUTF8"] if utf8 else []
            if utf8 and not client.supports_extension("smtputf8"):
                raise DeliveryError(
                    f"{self.server.label} does not take non-ASCII addresses (no SMTPUTF8)",
                    retryable=False,
                )
            encoding = "utf-8" if utf8 else "ascii"
            stage = _Stage.SENDER
            await self._step(client.mail(sender, options=options, encoding=encoding), stage, "")
            stage = _Stage.RECIPIENT
            await self._step(client.rcpt(recipient, encoding=encoding), stage, recipient)
            stage = _Stage.DATA
            await self._step(client.data(data), stage, recipient)
        finally:
            await self._close(client)

    async def _step(self, call: Awaitable[object], stage: _Stage, recipient: str) -> None:
        try:
            await call
        except aiosmtplib.SMTPResponseException as exc:
            raise self._refused(exc, stage, recipient) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise self._lost(exc, stage) from None

    async def _close(self, client: aiosmtplib.SMTP) -> None:
        """QUIT when the connection is still up; the message's fate is already decided."""
        if client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit(timeout=min(self.timeout, _QUIT_TIMEOUT))
        client.close()

    def _refused(
        self, exc: aiosmtplib.SMTPResponseException, stage: _Stage, recipient: str
    ) -> DeliveryError:
        reply = _one_line(exc.message, recipient)
        said = f"{self.server.label} answered {exc.code} {reply}".rstrip()
        if isinstance(exc, aiosmtplib.SMTPConnectError):
            return DeliveryError(f"{said} on connect")
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            return DeliveryError(f"{said} to the login (check the user and password)")
        permanent = 500 <= exc.code < 600
        if permanent and stage in (_Stage.RECIPIENT, _Stage.DATA):
            return DeliveryError(f"{said} at {stage.value}; refused", retryable=False)
        return DeliveryError(f"{said} at {stage.value}")

    def _lost(self, exc: BaseException, stage: _Stage) -> DeliveryError:
        if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError):
            return DeliveryError(f"{self.server.label}: no connection within {self.timeout:g}s")
        if isinstance(exc, aiosmtplib.SMTPConnectError):
            return DeliveryError(f"{self.server.label}: could not connect: {_cause(exc)}")
        if isinstance(exc, aiosmtplib.SMTPTimeoutError):
            what = f"no answer within {self.timeout:g}s"
        elif isinstance(exc, aiosmtplib.SMTPServerDisconnected):
            what = "the connection was lost"
        else:
            what = _cause(exc)
        if stage is _Stage.DATA:
            return DeliveryError(
                f"{self.server.label}: {what} after DATA; the message may have been delivered",
                maybe_sent=True,
            )
        return DeliveryError(f"{self.server.label}: {what} ({stage.value})")


def build_mail(message: OutgoingMessage, sender: Address) -> EmailMessage:
    """The email for `message`: text and HTML alternatives, threading headers by message id.
    A `ValueError` when an address or a message id cannot go in a header."""
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["From"] = sender
    mail["To"] = _address(message.to, "the recipient", display_name=message.to_name)
    mail["Subject"] = _header_text(message.subject)
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = _msg_id(message.message_id)
    if message.in_reply_to:
        mail["In-Reply-To"] = _msg_id(message.in_reply_to)
    references = message.references or ((message.in_reply_to,) if message.in_reply_to else ())
    if references:
        mail["References"] = " ".join(_msg_id(ref) for ref in references)
    text = clean_text(message.text)
    mail.set_content(text if text.endswith("\n") else text + "\n")
    mail.add_alternative(_html_document(html_from_text(text)), subtype="html")
    return mail


def _html_document(body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f"<body>\n{body}\n</body></html>\n"
    )


def _address(addr_spec: str, role: str, *, display_name: str | None = None) -> Address:
    spec = addr_spec.strip()
    local, at, domain = spec.rpartition("@")
    if not (local and at and domain) or any(c.isspace() or c in '<>",;' for c in spec):
        raise ValueError(f"{role} {mask_email(spec)} is not an email address")
    try:
        return Address(display_name=_header_text(display_name or ""), addr_spec=spec)
    except (ValueError, IndexError):
        raise ValueError(f"{role} {mask_email(spec)} is not an email address") from None


def _msg_id(value: str) -> str:
    """`<id>` from an id given without brackets (brackets already there are tolerated)."""
    bare = value.strip().removeprefix("<").removesuffix(">")
    local, at, domain = bare.partition("@")
    if not (local and at and domain) or any(
        char.isspace() or not char.isprintable() or char in "<>" for char in bare
    ):
        raise ValueError(f"the message id {bare!r} is not an RFC 5322 id (left@right)")
    return f"<{bare}>"


def _header_text(value: str) -> str:
    """One line: a header never carries a line break (that would start a header of its own)."""
    return " ".join(clean_text(value).split())


def _helo_name(domain: str) -> str:
    """The name we greet the server with: the sender's domain (an IP as an address literal)."""
    try:
        return f"[{ipaddress.ip_address(domain)}]"
    except ValueError:
        return domain or "localhost"


def _one_line(text: str, recipient: str) -> str:
    """A server's reply, short, on one line, with the customer's address masked."""
    line = " ".join(text.split())
    if recipient:
        line = line.replace(recipient, mask_email(recipient))
    return line[:_LONGEST_REPLY]


def _cause(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
