"""Customer channels against real servers on loopback: SMTP to aiosmtpd (and the sandbox's
mailbox), the webhook to a uvicorn server that checks the signature."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.customers.inbound import SIGNATURE_HEADER, TIMESTAMP_HEADER, is_valid
from connectors.customers.outbound import DeliveryError, OutgoingMessage, html_from_text
from connectors.customers.smtp import SmtpChannel
from connectors.customers.webhook import WebhookChannel, webhook_body
from sandbox.world.mailbox import Mailbox
from sandbox.world.order_service import OrderServiceServer

SENDER = "disputes@desk.example"
SECRET = "outbound-secret-5d2a"
TEXT = "Hello Emma,\nGrüße from the desk — 10 € back.\n\nAccept: https://desk.example/o/ab?x=1&y=2"


def message(**changes: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "message_id": "d7.m3.5f2c@desk.example",
        "dispute": "D-7",
        "kind": "offer",
        "to": "emma@example.com",
        "to_name": "Emma Stone",
        "subject": "Your return D-7: our offer — 10 €",
        "text": TEXT,
        "in_reply_to": "d7.m1.a0b1@desk.example",
        "references": ("d7.m1.a0b1@desk.example", "d7.m2.c3d4@desk.example"),
        "links": ("https://desk.example/o/ab?x=1&y=2",),
    }
    values.update(changes)
    return OutgoingMessage(**values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# SMTP


class Sink:
    """An aiosmtpd handler that keeps each mail, or answers as told at RCPT or DATA."""

    def __init__(self, *, rcpt: str | None = None, data: str | None = None) -> None:
        self.rcpt_answer = rcpt
        self.data_answer = data
        self.received: list[tuple[Envelope, EmailMessage]] = []
        self.logins: list[LoginPassword] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_answer:
            return self.rcpt_answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_answer:
            return self.data_answer
        # As a mail store keeps it: lines end in LF, not the CRLF of the wire.
        raw = (envelope.original_content or b"").replace(b"\r\n", b"\n")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.received.append((envelope, parsed))  # type: ignore[arg-type]
        return "250 Message accepted"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        self.logins.append(data)
        ok = data.login == b"desk@shop.example" and data.password == b"p@ss:w/rd"
        return AuthResult(success=ok, handled=False)


class Stalling(Sink):
    """Takes the whole mail, then answers after `release` or hangs up, as told."""

    def __init__(self, *, hang_up: bool = False) -> None:
        super().__init__()
        self.hang_up = hang_up
        self.release = asyncio.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.hang_up:
            assert server.transport is not None
            server.transport.close()
            return "250 never heard"
        await self.release.wait()
        return "250 too late"


@asynccontextmanager
async def smtp_server(handler: Sink, **options: Any) -> AsyncIterator[int]:
    """aiosmtpd in this loop on a free loopback port; yields the port."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", **options), host="127.0.0.1", port=0
    )
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        if isinstance(handler, Stalling):
            handler.release.set()
        server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2)


async def test_mail_has_the_text_and_html_parts_and_the_threading_headers() -> None:
    sink = Sink()
    async with smtp_server(sink) as port:
        channel = SmtpChannel.from_url(f"smtp://127.0.0.1:{port}", sender=SENDER)
        await channel.send(message())
        await channel.aclose()

    [(envelope, mail)] = sink.received
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["emma@example.com"]
    assert mail.get_content_type() == "multipart/alternative"
    text, html = mail.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert text.get_content() == TEXT + "\n"
    assert html.get_content_type() == "text/html"
    assert html_from_text(TEXT) in html.get_content()
    assert '<a href="https://desk.example/o/ab?x=1&amp;y=2">' in html.get_content()
    assert mail["Message-ID"] == "<d7.m3.5f2c@desk.example>"
    assert mail["In-Reply-To"] == "<d7.m1.a0b1@desk.example>"
    assert mail["References"] == "<d7.m1.a0b1@desk.example> <d7.m2.c3d4@desk.example>"
    assert mail["From"] == SENDER
    [to] = mail["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Emma Stone", "emma@example.com")
    assert mail["Subject"] == "Your return D-7: our offer — 10 €"
    sent_at = parsedate_to_datetime(mail["Date"])
    assert abs(datetime.now(UTC) - sent_at) < timedelta(minutes=1)


async def test_the_first_mail_of_a_conversation_has_no_threading_headers() -> None:
    sink = Sink()
    async with smtp_server(sink) as port:
        channel = SmtpChannel.from_url(f"smtp://127.0.0.1:{port}", sender=SENDER)
        await channel.send(message(in_reply_to=None, references=(), to_name=None))

    [(_, mail)] = sink.received
    assert "In-Reply-To" not in mail and "References" not in mail
    assert mail["To"] == "emma@example.com"


async def test_a_reply_without_references_refers_to_the_first_message() -> None:
    sink = Sink()
    async with smtp_server(sink) as port:
        channel = SmtpChannel.from_url(f"smtp://127.0.0.1:{port}", sender=SENDER)
        await channel.send(message(references=()))

    [(_, mail)] = sink.received
    assert mail["References"] == "<d7.m1.a0b1@desk.example>"


async def test_auth_with_the_user_and_password_of_the_url() -> None:
    sink = Sink()
    async with smtp_server(sink, authenticator=sink.authenticate, auth_require_tls=False) as port:
        url = f"smtp://desk%40shop.example:p%40ss%3Aw%2Frd@127.0.0.1:{port}"
        await SmtpChannel.from_url(url, sender=SENDER).send(message())

    assert [(login.login, login.password) for login in sink.logins] == [
        (b"desk@shop.example", b"p@ss:w/rd")
    ]
    assert len(sink.received) == 1


async def test_a_refused_login_is_retryable_and_nothing_is_sent() -> None:
    sink = Sink()
    async with smtp_server(sink, authenticator=sink.authenticate, auth_require_tls=False) as port:
        url = f"smtp://desk%40shop.example:wrong-password-3e9@127.0.0.1:{port}"
        with pytest.raises(DeliveryError) as failed:
            await SmtpChannel.from_url(url, sender=SENDER).send(message())

    assert (failed.value.retryable, failed.value.maybe_sent) == (True, False)
    assert "login" in failed.value.reason
    assert "wrong-password-3e9" not in failed.value.reason
    assert sink.received == []


async def test_no_server_is_retryable_and_not_sent() -> None:
    channel = SmtpChannel.from_url(f"smtp://127.0.0.1:{free_port()}", sender=SENDER, timeout=2)
    with pytest.raises(DeliveryError) as failed:
        await channel.send(message())
    assert (failed.value.retryable, failed.value.maybe_sent) == (True, False)
    assert "could not connect" in failed.value.reason


async def test_an_unknown_host_is_retryable_and_not_sent() -> None:
    channel = SmtpChannel.from_url("smtp://mail.invalid:25", sender=SENDER, timeout=2)
    with pytest.raises(DeliveryError) as failed:
        await channel.send(message())
    assert (failed.value.retryable, failed.value.maybe_sent) == (True, False)


async def test_a_5xx_for_the_recipient_is_not_retryable() -> None:
    sink = Sink(rcpt="550 5.1.1 <emma@example.com>: Recipient address rejected")
    async with smtp_server(sink) as port:
        channel = SmtpChannel.from_url(f"smtp://127.0.0.1:{port}", sender=SENDER)
        with pytest.raises(DeliveryError) as refused:
            await channel.send(message())

    assert (refused.value.retryable, refused.value.maybe_sent) == (False, False)
    assert "550" in refused.value.reason and "RCPT TO" in refused.value.reason
    assert "emma@example.com" not in refused.value.reason
    assert "e•••@example.com" in refused.value.reason
    assert sink.received == []


async def test_a_4xx_for_the_recipient_is_retryable() -> None:
    sink = Sink(rcpt="450 4.2.0 Greylisted, come back later")
    async with smtp_server(sink) as port:
        channel = SmtpChannel.from_url(f"smtp://127.0.0.1:{port}", sender=SENDER)
        with pytest.raises(DeliveryError) as failed:
            await channel.send(message())
    assert (failed.value.retryable, failed.value.maybe_sent) == (True, False)
    assert "450" in failed.value.reason


async def test_a_5xx_for_the_message_is_not_retryable() -> None:
    sink = Sink(data="554 5.7.1 Message rejected as spam")
    async with smtp_server(sink) as port:
        channel = SmtpChannel.from_url(f"smtp://127.0.0.1:{port}", sender=SENDER)
        with pytest.raises(DeliveryError) as refused:
            await channel.send(message())
    assert (refused.value.retryable, refused.value.maybe_sent) == (False, False)
    assert "554" in refused.value.reason and "DATA" in refused.value.reason


@pytest.mark.parametrize("hang_up", [False, True], ids=["no answer", "hung up"])
async def test_no_answer_after_data_may_have_been_delivered(hang_up: bool) -> None:
    sink = Stalling(hang_up=hang_up)
    async with smtp_server(sink) as port:
        channel = SmtpChannel.from_url(f"smtp://127.0.0.1:{port}", sender=SENDER, timeout=0.3)
        with pytest.raises(DeliveryError) as failed:
            await channel.send(message())
    assert (failed.value.retryable, failed.value.maybe_sent) == (True, True)
    assert "after DATA" in failed.value.reason


async def test_starttls_true_never_falls_back_to_plain_text() -> None:
    sink = Sink()
    async with smtp_server(sink) as port:
        url = f"smtp://127.0.0.1:{port}?starttls=true"
        with pytest.raises(DeliveryError) as failed:
            await SmtpChannel.from_url(url, sender=SENDER).send(message())
    assert (failed.value.retryable, failed.value.maybe_sent) == (True, False)
    assert sink.received == []


# The sandbox's mailbox


async def test_the_mailbox_keeps_both_parts_and_ids_and_a_resend_once() -> None:
    async with Mailbox() as mailbox:
        channel = SmtpChannel.from_url(mailbox.url, sender=SENDER)
        await channel.send(message())
        await channel.send(message())  # the outbox's resend after a lost answer
        await channel.send(message(message_id="d7.m4.9e8f@desk.example", subject="Reminder"))

    assert mailbox.duplicates == 1
    first, second = mailbox.messages
    assert first.sender == SENDER and first.to == ("emma@example.com",)
    assert first.subject == "Your return D-7: our offer — 10 €"
    assert first.body == TEXT + "\n"
    assert html_from_text(TEXT) in first.html
    assert first.message_id == "d7.m3.5f2c@desk.example"
    assert first.in_reply_to == "d7.m1.a0b1@desk.example"
    assert first.references == ("d7.m1.a0b1@desk.example", "d7.m2.c3d4@desk.example")
    assert (second.message_id, second.subject) == ("d7.m4.9e8f@desk.example", "Reminder")


async def test_the_mailbox_keeps_every_mail_without_a_message_id() -> None:
    async with Mailbox() as mailbox:
        assert mailbox.port is not None
        for _ in range(2):
            await aiosmtplib.send(
                "Subject: plain\r\n\r\nno id here\r\n",
                sender="shop@example.com",
                recipients=["emma@example.com"],
                hostname="127.0.0.1",
                port=mailbox.port,
                start_tls=False,
                local_hostname="test.example",
            )

    assert [mail.body for mail in mailbox.messages] == ["no id here\n", "no id here\n"]
    assert mailbox.messages[0].message_id is None and mailbox.messages[0].html == ""
    assert mailbox.duplicates == 0


# The webhook


class HookReceiver:
    """A webhook endpoint that checks the signature, answers `fail_status` to the first
    `fails` requests, then takes each message once by its Idempotency-Key."""

    def __init__(self, *, fails: int = 0, fail_status: int = 503, stall: bool = False) -> None:
        self.fails = fails
        self.fail_status = fail_status
        self.stall = stall
        self.release = asyncio.Event()
        self.requests: list[dict[str, Any]] = []
        self.delivered: dict[str, dict[str, Any]] = {}
        self.app = Starlette(routes=[Route("/hooks/desk", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        signed = is_valid(
            SECRET,
            request.headers.get(TIMESTAMP_HEADER, ""),
            request.headers.get(SIGNATURE_HEADER, ""),
            body,
        )
        key = request.headers.get("Idempotency-Key", "")
        self.requests.append({"key": key, "signed": signed, "body": body})
        if self.stall:
            await self.release.wait()
        if not signed:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if len(self.requests) <= self.fails:
            return Response(status_code=self.fail_status)
        self.delivered.setdefault(key, json.loads(body))
        return JSONResponse({"ok": True})


@asynccontextmanager
async def hook_server(receiver: HookReceiver) -> AsyncIterator[str]:
    async with OrderServiceServer(receiver.app) as base:
        try:
            yield f"{base}/hooks/desk"
        finally:
            receiver.release.set()


async def test_the_webhook_is_retried_through_503s_and_delivered_once() -> None:
    receiver = HookReceiver(fails=2)
    async with hook_server(receiver) as url:
        channel = WebhookChannel(url, secret=SECRET, backoff=0.001)
        await channel.send(message())
        await channel.aclose()

    assert [r["key"] for r in receiver.requests] == ["d7.m3.5f2c@desk.example"] * 3
    assert all(r["signed"] for r in receiver.requests)
    assert {r["body"] for r in receiver.requests} == {webhook_body(message())}
    assert list(receiver.delivered) == ["d7.m3.5f2c@desk.example"]
    delivered = receiver.delivered["d7.m3.5f2c@desk.example"]
    assert delivered["type"] == "customer_message"
    assert delivered["to"] == {"email": "emma@example.com", "name": "Emma Stone"}
    assert delivered["text"] == TEXT and delivered["html"] == html_from_text(TEXT)


async def test_a_400_is_not_retryable() -> None:
    receiver = HookReceiver(fails=5, fail_status=400)
    async with hook_server(receiver) as url:
        channel = WebhookChannel(url, secret=SECRET, backoff=0.001)
        with pytest.raises(DeliveryError) as refused:
            await channel.send(message())
        await channel.aclose()

    assert (refused.value.retryable, refused.value.maybe_sent) == (False, False)
    assert "HTTP 400" in refused.value.reason
    assert len(receiver.requests) == 1 and receiver.delivered == {}


async def test_a_wrong_secret_is_refused_by_the_receiver() -> None:
    receiver = HookReceiver()
    async with hook_server(receiver) as url:
        channel = WebhookChannel(url, secret="not-the-shared-secret", backoff=0.001)
        with pytest.raises(DeliveryError) as refused:
            await channel.send(message())
        await channel.aclose()

    assert refused.value.retryable is False
    assert "HTTP 401" in refused.value.reason
    assert [r["signed"] for r in receiver.requests] == [False]


async def test_503_to_the_end_is_retryable_and_may_have_been_delivered() -> None:
    receiver = HookReceiver(fails=100)
    async with hook_server(receiver) as url:
        channel = WebhookChannel(url, secret=SECRET, attempts=3, backoff=0.001)
        with pytest.raises(DeliveryError) as failed:
            await channel.send(message())
        await channel.aclose()

    assert (failed.value.retryable, failed.value.maybe_sent) == (True, True)
    assert failed.value.reason.endswith("after 3 attempts: HTTP 503")
    assert len(receiver.requests) == 3


async def test_no_answer_in_time_may_have_been_delivered() -> None:
    receiver = HookReceiver(stall=True)
    async with hook_server(receiver) as url:
        channel = WebhookChannel(url, secret=SECRET, timeout=0.3, attempts=2, backoff=0.001)
        with pytest.raises(DeliveryError) as failed:
            await channel.send(message())
        await channel.aclose()

    assert (failed.value.retryable, failed.value.maybe_sent) == (True, True)
    assert "no answer within 0.3s" in failed.value.reason
    assert len(receiver.requests) == 2


async def test_no_webhook_server_is_retryable_and_not_sent() -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/desk"
    channel = WebhookChannel(url, secret=SECRET, attempts=2, backoff=0.001)
    with pytest.raises(DeliveryError) as failed:
        await channel.send(message())
    await channel.aclose()
    assert (failed.value.retryable, failed.value.maybe_sent) == (True, False)
