"""Customer replies signed as the app's inbound path expects them (README, item 7 of the flows):
the Unix time in `X-Dispute-Desk-Timestamp`, and `v1=` + hex HMAC-SHA256 of
`{timestamp}.{raw body}` under the shared secret in `X-Dispute-Desk-Signature`. The sandbox
signs on its own, as a helpdesk or an email relay would."""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Dispute-Desk-Timestamp"
SIGNATURE_HEADER = "X-Dispute-Desk-Signature"


def reply_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 of `{timestamp}.{body}`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def signed_reply_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers of a JSON reply posted to the app's `/api/customer-replies`."""
    stamp = str(int(time.time() if now is None else now))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: reply_signature(secret, stamp, body),
    }
