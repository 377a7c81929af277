"""`webhook:<https-url>`: customer messages POSTed as JSON to a helpdesk, a mail relay or a
service of the shop's own, which delivers them to the customer.

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <message_id>
    X-Dispute-Desk-Timestamp: <unix seconds>
    X-Dispute-Desk-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{body}" under OUTBOUND_SECRET>

    {"type": "customer_message", "message_id": "d7.m3.5f2c@desk.example", "dispute": "D-7",
     "kind": "offer", "to": {"email": "emma@example.com", "name": "Emma Stone"},
     "subject": "...", "text": "plain text", "html": "<p>the same text as HTML</p>",
     "in_reply_to": "d7.m1.a0b1@desk.example" | null,
     "references": ["d7.m1.a0b1@desk.example"], "links": ["https://desk.example/o/..."]}

The signature is the one on customer replies (`connectors/customers/inbound.py`), made afresh
for every attempt. A message may arrive more than once (the answer to an earlier attempt was
lost): the receiver keeps the first and answers 2xx to the rest, by `Idempotency-Key`.

Answers: 2xx is delivered. 408, 429, 5xx, a timeout or a lost connection are tried again with
backoff within one `send` (a `Retry-After` is honoured up to a cap). Any other answer (a 4xx,
a redirect) is a refusal a person must look at.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from urllib.parse import urlsplit, urlunsplit

import httpx

from connectors.customers.inbound import signed_headers
from connectors.customers.outbound import DeliveryError, OutgoingMessage, html_from_text
from connectors.http_retry import AttemptsExhausted, HttpRetry, WaitTooLong, describe_error

WEBHOOK_FORM = "webhook:<https-url>"
# 408 and 429: not taken, come back later.
_COME_BACK = frozenset({408, 429})
# Raised before a byte of the request was written: the receiver cannot have seen it.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def parse_webhook_url(url: str) -> str:
    """An http(s) URL with a host; a `ValueError` that never shows a password in it."""
    url = url.strip()
    parts = urlsplit(url)
    if (
        parts.scheme.lower() not in {"http", "https"}
        or not parts.hostname
        or any(char.isspace() or not char.isprintable() for char in url)
    ):
        raise ValueError(f"expected {WEBHOOK_FORM}: an http(s) URL with a host")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(f"expected {WEBHOOK_FORM}: the port is not a number") from None
    if parts.fragment:
        raise ValueError(f"expected {WEBHOOK_FORM}: the URL must not have a #fragment")
    return url


def webhook_body(message: OutgoingMessage) -> bytes:
    """The JSON the webhook receives for `message` (the same bytes on every attempt)."""
    document = {
        "type": "customer_message",
        "message_id": message.message_id,
        "dispute": message.dispute,
        "kind": message.kind,
        "to": {"email": message.to, "name": message.to_name},
        "subject": message.subject,
        "text": message.text,
        "html": html_from_text(message.text),
        "in_reply_to": message.in_reply_to,
        "references": list(message.references),
        "links": list(message.links),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class _Signature(httpx.Auth):
    """Signs each attempt with a fresh timestamp, so that a late retry is not stale."""

    requires_request_body = True

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(signed_headers(self._secret, request.content))
        yield request


class _Attempts:
    """The retry rules for one send, noting whether any attempt may have reached the receiver."""

    def __init__(self) -> None:
        self.maybe_reached = False

    def retry_status(self, status: int) -> bool:
        if status >= 500:
            self.maybe_reached = True  # it may have acted before it failed
        return status >= 500 or status in _COME_BACK

    def retry_error(self, exc: httpx.HTTPError) -> bool:
        if not isinstance(exc, httpx.TransportError) or isinstance(exc, httpx.UnsupportedProtocol):
            return False
        if not isinstance(exc, _NEVER_SENT):
            self.maybe_reached = True  # a timeout or a reset once the request was written
        return True


class WebhookChannel:
    """POSTs each message to one URL, signed under the outbound secret; one pooled client."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        secret: str,
        timeout: float = 10.0,
        attempts: int = 4,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not secret:
            raise ValueError("the webhook needs OUTBOUND_SECRET to sign its requests")
        self.url = parse_webhook_url(url)
        self.label = f"webhook {_shown(self.url)}"
        self.timeout = timeout
        self._client = httpx.AsyncClient(
            timeout=timeout, transport=transport, auth=_Signature(secret), follow_redirects=False
        )
        self._retry = HttpRetry(
            self._client, attempts=attempts, backoff=backoff, max_retry_after=max_retry_after
        )

    async def send(self, message: OutgoingMessage) -> None:
        attempts = _Attempts()
        try:
            response = await self._retry.request(
                "POST",
                self.url,
                retry_status=attempts.retry_status,
                retry_error=attempts.retry_error,
                describe=self._describe,
                content=webhook_body(message),
                headers={"Idempotency-Key": message.message_id, "User-Agent": "dispute-desk"},
            )
        except WaitTooLong as exc:
            raise DeliveryError(
                f"{self.label} answered {exc.failure} and asked to wait {exc.retry_after:g}s",
                maybe_sent=attempts.maybe_reached,
            ) from None
        except AttemptsExhausted as exc:
            raise DeliveryError(
                f"{self.label} did not take the message after {exc.attempts} attempts: "
                f"{exc.failure}",
                maybe_sent=attempts.maybe_reached,
            ) from None
        except httpx.HTTPError as exc:
            raise DeliveryError(
                f"{self.label}: {self._describe(exc)}", maybe_sent=attempts.maybe_reached
            ) from None
        if response.is_success:
            return
        reason = f" {response.reason_phrase}" if response.reason_phrase else ""
        raise DeliveryError(
            f"{self.label} refused the message: HTTP {response.status_code}{reason}",
            retryable=False,
        )

    def _describe(self, exc: httpx.HTTPError) -> str:
        if isinstance(exc, httpx.ConnectTimeout):
            return f"no connection within {self.timeout:g}s"
        if isinstance(exc, httpx.TimeoutException):
            return f"no answer within {self.timeout:g}s"
        if isinstance(exc, httpx.ConnectError):
            return f"could not connect: {exc}".rstrip(": ")
        return describe_error(exc)

    async def aclose(self) -> None:
        await self._client.aclose()


def _shown(url: str) -> str:
    """The URL without its user, password or query (where webhook tokens tend to live)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
