"""Request keys in the database: a key is claimed once, and a released key can be claimed
again (a refused customer reply sent again is no duplicate)."""

from __future__ import annotations

from connectors.customers.inbound import request_key
from storage.db import Database
from storage.requests import claim_request, release_request


async def test_a_key_is_claimed_once_until_it_is_released(db: Database) -> None:
    key = request_key("1700000000", b'{"dispute": "D-1"}')
    assert key.startswith("inbound:") and len(key) <= 120
    assert await claim_request(db, key, "customer-reply")
    assert not await claim_request(db, key, "customer-reply")
    await release_request(db, key)
    assert await claim_request(db, key, "customer-reply")


def test_a_replay_has_the_same_key_and_anything_else_another() -> None:
    body = b'{"dispute": "D-1", "from": "a@b.example", "body": "hi"}'
    assert request_key("1700000000", body) == request_key("1700000000", body)
    assert request_key("1700000001", body) != request_key("1700000000", body)
    assert request_key("1700000000", body + b" ") != request_key("1700000000", body)
