"""Customer channels: the CUSTOMER_CHANNEL forms, the HTML of a message, masking, the log line,
and the webhook's request and retry rules over `httpx.MockTransport`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from types import SimpleNamespace

import httpx
import pytest

from connectors import http_retry
from connectors.customers import inbound
from connectors.customers.factory import channel_from_setting, check_channel_setting
from connectors.customers.inbound import SIGNATURE_HEADER, TIMESTAMP_HEADER, is_valid
from connectors.customers.log_channel import LogChannel
from connectors.customers.outbound import DeliveryError, OutgoingMessage, html_from_text
from connectors.customers.smtp import SmtpChannel, SmtpServer, build_mail, parse_smtp_url
from connectors.customers.webhook import WebhookChannel
from domain.masking import mask_email, mask_phone

PASSWORD = "Pa55word9f3ac1d7"
SECRET = "outbound-secret-7c1e"


def message(**changes: object) -> OutgoingMessage:
    values: dict[str, object] = {
        "message_id": "d7.m3.5f2c@desk.example",
        "dispute": "D-7",
        "kind": "offer",
        "to": "emma@example.com",
        "to_name": "Emma Stone",
        "subject": "Your return D-7: our offer",
        "text": "Hello Emma,\nline two\n\nAccept: https://desk.example/o/abc?x=1&y=2",
        "in_reply_to": "d7.m1.a0b1@desk.example",
        "references": ("d7.m1.a0b1@desk.example", "d7.m2.c3d4@desk.example"),
        "links": ("https://desk.example/o/abc?x=1&y=2",),
    }
    values.update(changes)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


# CUSTOMER_CHANNEL forms


def test_log_is_accepted_in_any_case() -> None:
    assert check_channel_setting(" LOG ") == "log"


@pytest.mark.parametrize(
    ("value", "server"),
    [
        ("smtp://mail.example.com:25", SmtpServer("mail.example.com", 25)),
        (
            "smtp://mailer@mail.example.com:2525",
            SmtpServer("mail.example.com", 2525, username="mailer"),
        ),
        (
            "smtp://desk%40shop.example:p%40ss%3Aw%2Frd@smtp.example:587?starttls=true",
            SmtpServer("smtp.example", 587, "desk@shop.example", "p@ss:w/rd", starttls=True),
        ),
        ("smtp://u:pw@smtp.example:587?starttls=false", SmtpServer("smtp.example", 587, "u", "pw")),
        ("smtp://[::1]:1025", SmtpServer("::1", 1025)),
    ],
)
def test_smtp_urls_are_parsed_with_user_and_password_percent_decoded(
    value: str, server: SmtpServer
) -> None:
    assert check_channel_setting(value) == value
    assert parse_smtp_url(value) == server


def test_the_smtp_password_is_not_in_the_servers_repr() -> None:
    server = parse_smtp_url(f"smtp://mailer:{PASSWORD}@smtp.example:587")
    assert server.password == PASSWORD
    assert PASSWORD not in repr(server)


@pytest.mark.parametrize(
    "value",
    ["webhook:https://hooks.example/desk?token=abc", "webhook:http://127.0.0.1:8080/hook"],
)
def test_webhook_urls_are_accepted(value: str) -> None:
    assert check_channel_setting(value) == value
    assert check_channel_setting(value.replace("webhook:", "webhook: ")) == value


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (
            "",
            "expected smtp://[user:password@]host:port[?starttls=true], webhook:<https-url> or log",
        ),
        ("email", "or log"),
        ("smtps://mail.example.com:465", "or log"),
        ("smtp:mail.example.com:25", "or log"),
        ("smtp://mail.example.com", "the port is missing"),
        (f"smtp://mailer:{PASSWORD}@mail.example.com", "the port is missing"),
        (f"smtp://mailer:{PASSWORD}@mail.example.com:smtp", "the port is missing"),
        (f"smtp://mailer:{PASSWORD}@mail.example.com:0", "the port is missing"),
        (f"smtp://mailer:{PASSWORD}@:25", "the host is missing"),
        (f"smtp://:{PASSWORD}@mail.example.com:25", "a password needs a user"),
        (f"smtp://mailer:{PASSWORD}@mail.example.com:25/x", "nothing may follow the port"),
        (f"smtp://mailer:{PASSWORD}@mail.example.com:25?tls=1", "the only option is starttls"),
        (f"smtp://m:{PASSWORD}@mail.example.com:25?starttls=maybe", "the only option is starttls"),
        (f"smtp://mailer:{PASSWORD} x@mail.example.com:25", "without spaces"),
        ("webhook:", "webhook:<https-url>: an http(s) URL with a host"),
        ("webhook:ftp://hooks.example/x", "an http(s) URL with a host"),
        ("webhook:https://", "an http(s) URL with a host"),
        (f"webhook:https://u:{PASSWORD}@hooks.example:x/", "the port is not a number"),
        ("webhook:https://hooks.example/x#top", "must not have a #fragment"),
    ],
)
def test_a_bad_setting_says_what_is_expected_on_one_line_without_the_password(
    value: str, says: str
) -> None:
    with pytest.raises(ValueError) as refused:
        check_channel_setting(value)
    text = str(refused.value)
    assert text.startswith("expected ")
    assert says in text
    assert PASSWORD not in text
    assert "\n" not in text


async def test_the_factory_builds_the_channel_the_setting_names() -> None:
    log = channel_from_setting("log", sender="disputes@desk.example", secret=None)
    smtp = channel_from_setting(
        "smtp://mailer:pw@smtp.example:587?starttls=true",
        sender="disputes@desk.example",
        secret=None,
        timeout=3.0,
    )
    hook = channel_from_setting(
        "webhook:https://hooks.example/desk", sender="disputes@desk.example", secret=SECRET
    )
    try:
        assert (log.name, smtp.name, hook.name) == ("log", "smtp", "webhook")
        assert isinstance(log, LogChannel)
        assert isinstance(smtp, SmtpChannel)
        assert smtp.server == SmtpServer("smtp.example", 587, "mailer", "pw", starttls=True)
        assert smtp.timeout == 3.0
        assert smtp.sender.addr_spec == "disputes@desk.example"
        assert isinstance(hook, WebhookChannel)
        assert hook.url == "https://hooks.example/desk"
    finally:
        await hook.aclose()


def test_a_webhook_without_a_secret_names_outbound_secret() -> None:
    with pytest.raises(ValueError, match=r"^OUTBOUND_SECRET is not set"):
        channel_from_setting("webhook:https://hooks.example/x", sender="d@x.example", secret=None)


# The HTML of a message


def test_html_escapes_everything_hostile() -> None:
    shown = html_from_text('<script>alert("x")</script> & "quoted" \'single\' <img src=x>')
    assert shown == (
        "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quoted&quot; "
        "&#x27;single&#x27; &lt;img src=x&gt;</p>"
    )


def test_html_paragraphs_line_breaks_and_links() -> None:
    text = (
        "Hello Emma,\r\nline two\n\n\n  \nAccept: https://desk.example/o/1?a=1&b=2.\n"
        "Not a link: javascript:alert(1) ftp://x.example"
    )
    assert html_from_text(text) == (
        "<p>Hello Emma,<br>\nline two</p>\n"
        '<p>Accept: <a href="https://desk.example/o/1?a=1&amp;b=2">'
        "https://desk.example/o/1?a=1&amp;b=2</a>.<br>\n"
        "Not a link: javascript:alert(1) ftp://x.example</p>"
    )


def test_a_link_ends_at_a_quote_or_angle_bracket() -> None:
    shown = html_from_text('see http://x.example/"><script>alert(1)</script>')
    assert shown == (
        '<p>see <a href="http://x.example/">http://x.example/</a>'
        "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )


def test_html_of_nothing_is_nothing_and_controls_are_dropped() -> None:
    assert html_from_text("  \n\n ") == ""
    assert html_from_text("a\x00b\u202ec") == "<p>abc</p>"


# Masking


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("emma@example.com", "e•••@example.com"),
        ("  Emma.Stone+returns@Example.COM ", "E•••@Example.COM"),
        ("a@b@example.com", "a•••@example.com"),
        ("@example.com", "•••@example.com"),
        ("emma@", "e•••@"),
        ("emma", "e•••"),
        ("", "•••"),
        ("\nemma@example.com", "e•••@example.com"),
        ("\x1bmma@example.com", "•••@example.com"),
        ("emma@exa mple.com\n", "e•••@•••"),
        ("emma@" + "x" * 300, "e•••@•••"),
        (None, "•••"),
    ],
)
def test_mask_email_shows_the_first_character_and_the_domain(given: str, shown: str) -> None:
    assert mask_email(given) == shown


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("+1 415 555 0100", "•••• 0100"),
        ("(415) 555-0199 ext", "•••• 0199"),
        ("0100", "••••"),
        ("", "••••"),
        ("no digits", "••••"),
        ("٤١٥٥٥٥٠١٠٠", "••••"),  # not ASCII digits: nothing read, nothing shown
        (None, "••••"),
    ],
)
def test_mask_phone_shows_the_last_four_digits(given: str, shown: str) -> None:
    assert mask_phone(given) == shown


# The log channel


async def test_the_log_channel_writes_one_line_with_the_address_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel = LogChannel()
    with caplog.at_level(logging.INFO, logger="connectors.customers.log_channel"):
        await channel.send(message(subject='Offer "now"\nBcc: x'))
        await channel.aclose()

    [record] = [r for r in caplog.records if r.name == "connectors.customers.log_channel"]
    line = record.getMessage()
    assert record.levelno == logging.INFO
    assert line == (
        "customer message D-7 [offer] to e•••@example.com id=<d7.m3.5f2c@desk.example> "
        'subject="Offer \\"now\\"\\nBcc: x" '
        'text="Hello Emma,\\nline two\\n\\nAccept: https://desk.example/o/abc?x=1&y=2" '
        "links=https://desk.example/o/abc?x=1&y=2"
    )
    assert "emma@" not in line


async def test_the_log_line_stays_one_line_whatever_the_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hostile = message(
        dispute="D-7\nforged",
        kind="offer x",
        text="a\r\nb\u2028c\u2029d\x85e\x00f",
        links=("https://x.example/a b", "https://y.example/,z"),
    )
    with caplog.at_level(logging.INFO, logger="connectors.customers.log_channel"):
        await LogChannel().send(hostile)

    line = caplog.records[-1].getMessage()
    assert line.startswith("customer message D-7\\nforged [offer%20x] to e•••@example.com ")
    assert len(line.splitlines()) == 1
    assert line.endswith("links=https://x.example/a%20b,https://y.example/%2Cz")


async def test_the_log_line_has_no_links_part_without_links(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="connectors.customers.log_channel"):
        await LogChannel().send(message(links=()))
    assert "links=" not in caplog.records[-1].getMessage()


# The mail


def test_mail_headers_stay_one_line_whatever_the_subject_or_name() -> None:
    channel = SmtpChannel(SmtpServer("smtp.example", 25), sender="disputes@desk.example")
    hostile = message(subject="Offer\r\nBcc: evil@x.example", to_name='Emma\nBcc: "x" <a@b>')
    mail = build_mail(hostile, channel.sender)
    raw = mail.as_bytes()
    assert b"\nBcc:" not in raw and "Bcc" not in mail
    assert mail["Subject"] == "Offer Bcc: evil@x.example"
    [to] = mail["To"].addresses
    assert (to.display_name, to.addr_spec) == ('Emma Bcc: "x" <a@b>', "emma@example.com")
    assert mail["Message-ID"] == "<d7.m3.5f2c@desk.example>"


@pytest.mark.parametrize(
    "changes",
    [
        {"to": "not an address"},
        {"to": "emma@example.com>, <boss@example.com"},
        {"message_id": "no-at-sign"},
        {"message_id": "two words@desk.example"},
        {"in_reply_to": "a@b>\r\nBcc: <c@d"},
    ],
)
async def test_a_message_that_cannot_be_mail_is_refused_without_connecting(
    changes: dict[str, object],
) -> None:
    # Port 9 on loopback: nothing listens, so any attempt to connect would fail differently.
    channel = SmtpChannel(SmtpServer("127.0.0.1", 9), sender="disputes@desk.example")
    with pytest.raises(DeliveryError) as refused:
        await channel.send(message(**changes))
    assert refused.value.retryable is False
    assert refused.value.maybe_sent is False
    assert "not sent" in refused.value.reason


def test_the_sender_must_be_an_address() -> None:
    with pytest.raises(ValueError, match="the sender"):
        SmtpChannel(SmtpServer("smtp.example", 25), sender="Dispute Desk")


# The webhook over a mock transport

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []

    async def record(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(http_retry, "_sleep", record)
    return waited


def webhook(handler: Handler, **options: object) -> WebhookChannel:
    settings: dict[str, object] = {"secret": SECRET, "backoff": 0.001, "attempts": 3}
    settings.update(options)
    return WebhookChannel(
        "https://hooks.example/desk?token=t0k3n",
        transport=httpx.MockTransport(handler),
        **settings,  # type: ignore[arg-type]
    )


async def test_the_webhook_request_is_signed_and_carries_the_documented_body() -> None:
    seen: list[httpx.Request] = []

    def accept(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    channel = webhook(accept)
    await channel.send(message())
    await channel.aclose()

    [request] = seen
    body = request.content
    assert request.method == "POST"
    assert str(request.url) == "https://hooks.example/desk?token=t0k3n"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "d7.m3.5f2c@desk.example"
    stamp, signed = request.headers[TIMESTAMP_HEADER], request.headers[SIGNATURE_HEADER]
    assert signed.startswith("v1=")
    assert is_valid(SECRET, stamp, signed, body)
    assert not is_valid("another-secret", stamp, signed, body)
    assert not is_valid(SECRET, stamp, signed, body.replace(b"D-7", b"D-8"))
    assert json.loads(body) == {
        "type": "customer_message",
        "message_id": "d7.m3.5f2c@desk.example",
        "dispute": "D-7",
        "kind": "offer",
        "to": {"email": "emma@example.com", "name": "Emma Stone"},
        "subject": "Your return D-7: our offer",
        "text": "Hello Emma,\nline two\n\nAccept: https://desk.example/o/abc?x=1&y=2",
        "html": html_from_text(message().text),
        "in_reply_to": "d7.m1.a0b1@desk.example",
        "references": ["d7.m1.a0b1@desk.example", "d7.m2.c3d4@desk.example"],
        "links": ["https://desk.example/o/abc?x=1&y=2"],
    }
    assert SECRET.encode() not in body


async def test_429_waits_as_asked_and_the_same_key_is_sent_again(pauses: list[float]) -> None:
    keys: list[str] = []

    def busy_once(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        return (
            httpx.Response(429, headers={"Retry-After": "2"})
            if len(keys) == 1
            else (httpx.Response(200))
        )

    channel = webhook(busy_once)
    await channel.send(message())
    await channel.aclose()

    assert keys == ["d7.m3.5f2c@desk.example"] * 2
    assert pauses == [2.0]


async def test_a_retry_after_beyond_the_cap_ends_the_send_as_not_sent(pauses: list[float]) -> None:
    calls: list[int] = []

    def wait_an_hour(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(429, headers={"Retry-After": "3600"})

    channel = webhook(wait_an_hour, max_retry_after=10.0)
    with pytest.raises(DeliveryError) as failed:
        await channel.send(message())
    await channel.aclose()

    assert (failed.value.retryable, failed.value.maybe_sent) == (True, False)
    assert "asked to wait 3600s" in failed.value.reason
    assert len(calls) == 1 and pauses == []


@pytest.mark.parametrize(
    ("error", "maybe_sent"),
    [
        (httpx.ConnectError("connection refused"), False),
        (httpx.ConnectTimeout("no connection"), False),
        (httpx.ReadTimeout("no answer"), True),
        (httpx.RemoteProtocolError("server disconnected"), True),
    ],
)
async def test_transport_errors_are_retried_and_say_whether_the_message_may_have_arrived(
    pauses: list[float], error: httpx.HTTPError, maybe_sent: bool
) -> None:
    calls: list[int] = []

    def fail(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise error

    channel = webhook(fail)
    with pytest.raises(DeliveryError) as failed:
        await channel.send(message())
    await channel.aclose()

    assert len(calls) == 3 and len(pauses) == 2
    assert failed.value.retryable is True
    assert failed.value.maybe_sent is maybe_sent
    assert failed.value.reason.startswith(
        "webhook https://hooks.example/desk did not take the message after 3 attempts: "
    )
    assert "t0k3n" not in failed.value.reason


async def test_a_5xx_then_connection_refused_may_still_have_arrived(pauses: list[float]) -> None:
    answers = iter([httpx.Response(502), None, None])

    def flaky(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if answer is None:
            raise httpx.ConnectError("connection refused")
        return answer

    channel = webhook(flaky)
    with pytest.raises(DeliveryError) as failed:
        await channel.send(message())
    await channel.aclose()
    assert (failed.value.retryable, failed.value.maybe_sent) == (True, True)


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422, 301, 302])
async def test_a_refusal_or_redirect_is_final_and_not_retryable(
    pauses: list[float], status: int
) -> None:
    calls: list[int] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(status, headers={"Location": "https://elsewhere.example/"})

    channel = webhook(refuse)
    with pytest.raises(DeliveryError) as refused:
        await channel.send(message())
    await channel.aclose()

    assert len(calls) == 1
    assert (refused.value.retryable, refused.value.maybe_sent) == (False, False)
    assert f"HTTP {status}" in refused.value.reason


@pytest.mark.parametrize("status", [408, 500, 503])
async def test_a_come_back_later_answer_is_retried(pauses: list[float], status: int) -> None:
    statuses = iter([status, 200])

    def later(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(statuses))

    channel = webhook(later)
    await channel.send(message())
    await channel.aclose()
    assert len(pauses) == 1


async def test_each_attempt_is_signed_afresh(
    pauses: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter([1_700_000_000.0, 1_700_000_100.0])
    monkeypatch.setattr(inbound, "time", SimpleNamespace(time=lambda: next(clock)))
    stamps: list[str] = []

    def busy_once(request: httpx.Request) -> httpx.Response:
        stamps.append(request.headers[TIMESTAMP_HEADER])
        return httpx.Response(503 if len(stamps) == 1 else 200)

    channel = webhook(busy_once)
    await channel.send(message())
    await channel.aclose()
    assert stamps == ["1700000000", "1700000100"]


@pytest.mark.parametrize(
    "url",
    ["ftp://hooks.example/x", "hooks.example/x", "https://hooks.example/x#top"],
)
def test_the_webhook_takes_only_http_urls(url: str) -> None:
    with pytest.raises(ValueError, match=r"webhook:<https-url>"):
        WebhookChannel(url, secret=SECRET)


def test_the_webhook_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="OUTBOUND_SECRET"):
        WebhookChannel("https://hooks.example/x", secret="")
