"""The sandbox signs customer replies on its own; the app's verifier accepts what it signs."""

from __future__ import annotations

import time

from connectors.customers import inbound
from sandbox.world.reply_signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    reply_signature,
    signed_reply_headers,
)

BODY = b'{"dispute": "D-1", "from": "pat@example.com", "body": "Any news?"}'


def test_the_app_accepts_a_reply_the_sandbox_signed() -> None:
    headers = signed_reply_headers("s3cret", BODY)
    assert inbound.is_valid("s3cret", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], BODY)


def test_the_app_refuses_a_sandbox_reply_under_another_secret_or_body() -> None:
    headers = signed_reply_headers("s3cret", BODY)
    stamp, given = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert not inbound.is_valid("other", stamp, given, BODY)
    assert not inbound.is_valid("s3cret", stamp, given, BODY + b" ")


def test_the_sandbox_signs_exactly_as_the_app_documents() -> None:
    now = time.time()
    assert (TIMESTAMP_HEADER, SIGNATURE_HEADER) == (
        inbound.TIMESTAMP_HEADER,
        inbound.SIGNATURE_HEADER,
    )
    assert signed_reply_headers("k", BODY, now) == inbound.signed_headers("k", BODY, now)
    assert reply_signature("k", "1700000000", BODY) == inbound.signature("k", "1700000000", BODY)
