"""The signature on customer replies posted to the app (from a helpdesk, an email relay or the
sandbox's customer inbox): `v1=` + hex HMAC-SHA256 of `{timestamp}.{raw body}`."""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Dispute-Desk-Timestamp"
SIGNATURE_HEADER = "X-Dispute-Desk-Signature"
MAX_SKEW_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if now is None else now))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(secret, stamp, body),
    }


def is_valid(secret: str, timestamp: str, given: str, body: bytes) -> bool:
    """A fresh timestamp and a matching signature, compared in constant time."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 15:
        return False
    if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS or not given.isascii():
        return False
    return hmac.compare_digest(given, signature(secret, timestamp, body))


def request_key(timestamp: str, body: bytes) -> str:
    """One signed reply's identity, the same every time it is sent again: a replay repeats
    both its timestamp and its body."""
    return "inbound:" + hashlib.sha256(f"{timestamp}.".encode() + body).hexdigest()
