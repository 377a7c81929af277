"""The customer's links, `PUBLIC_URL/c/<token>`: signed, bound to one dispute and one offer (or
one survey), and carrying their expiry.

A token reads `<kind>.<id>.<dispute>.<expires>.<nonce>.<signature>`: the signature is an
HMAC-SHA256 under the installation's link key (made once, kept in the database, so every
replica signs alike), and the nonce must match the one stored with the offer or survey, so a
link is worth nothing once its row is gone or replaced. Whether it may still be answered is the
row's business, not the token's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.tables import LinkKeyRow

KEY_NAME = "customer-links"
KINDS = ("offer", "csat")
# Matched whole (fullmatch): `$` alone would let a trailing newline through.
_TOKEN = re.compile(
    r"(offer|csat)\.(\d{1,12})\.(\d{1,12})\.(\d{1,12})\.([0-9a-f]{32})\.([\w-]{43})"
)
MAX_TOKEN = 160


class BadLink(Exception):
    """A token that is malformed, forged or for something else: the page says only that the
    link is not valid, never which part was wrong."""


@dataclass(frozen=True, slots=True)
class LinkClaim:
    kind: str  # offer | csat
    row_id: int
    dispute_number: int
    expires_at: datetime
    nonce: str


def new_nonce() -> str:
    return secrets.token_hex(16)


class LinkSigner:
    """Signs and reads tokens with the installation's key, read once from the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._key: bytes | None = None

    async def key(self) -> bytes:
        if self._key is None:
            self._key = await _installation_key(self.db)
        return self._key

    async def token(self, claim: LinkClaim) -> str:
        payload = _payload(claim)
        return f"{payload}.{_sign(await self.key(), payload)}"

    async def read(self, token: str) -> LinkClaim:
        """The claim of a well-formed token with a good signature, or BadLink."""
        if len(token) > MAX_TOKEN or not token.isascii():
            raise BadLink("not a link of ours")
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise BadLink("not a link of ours")
        kind, row_id, number, expires, nonce, given = match.groups()
        try:
            expires_at = datetime.fromtimestamp(int(expires), UTC)
        except (ValueError, OverflowError, OSError):  # past the years a datetime holds
            raise BadLink("not a link of ours") from None
        claim = LinkClaim(kind, int(row_id), int(number), expires_at, nonce)
        if not hmac.compare_digest(given, _sign(await self.key(), _payload(claim))):
            raise BadLink("not a link of ours")
        return claim


def _payload(claim: LinkClaim) -> str:
    expires = int(claim.expires_at.timestamp())
    return f"{claim.kind}.{claim.row_id}.{claim.dispute_number}.{expires}.{claim.nonce}"


def _sign(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def _installation_key(db: Database) -> bytes:
    """The link key, made by whichever replica asks first; the others read that one."""
    async with db.reading() as session:
        row = await session.get(LinkKeyRow, KEY_NAME)
        if row is not None:
            return bytes.fromhex(row.secret)
    fresh = secrets.token_hex(32)
    try:
        async with db.transaction() as session:
            session.add(LinkKeyRow(name=KEY_NAME, secret=fresh, created_at=datetime.now(UTC)))
    except IntegrityError:
        pass  # another replica made it first
    async with db.reading() as session:
        row = await session.get(LinkKeyRow, KEY_NAME)
        assert row is not None
        return bytes.fromhex(row.secret)
