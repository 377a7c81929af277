"""`POST /api/customer-replies`: replies from the customer channel (email, helpdesk), signed.

A body over MAX_REPLY_BODY is refused (413) before it is read; a bad signature or a stale
timestamp gets 401. A signed reply sent again (a replay, or a relay's retry of one that was
filed) is filed once: its key (timestamp and body) is claimed in the database, so this holds
across restarts and replicas, and the repeat gets 200 with `{"ok": true, "duplicate": true}`
so that the sender stops retrying."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from bot.http import Refused, read_capped, refusal_line
from connectors.customers.inbound import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    is_valid,
    request_key,
)
from disputes.customer import InvalidReply, check_reply, file_reply
from disputes.errors import DisputeClosed, DisputeError
from handlers.deps import Deps
from storage.db import Database
from storage.requests import claim_request, release_request

log = logging.getLogger(__name__)

MAX_REPLY_BODY = 256 * 1024  # a reply is at most 10,000 characters, JSON-escaped
REPLY_KIND = "customer-reply"


def inbound_endpoint(
    db: Database, deps: Deps, secret: str | None
) -> Callable[[Request], Awaitable[Response]]:
    async def customer_reply(request: Request) -> Response:
        if not secret:
            return JSONResponse({"ok": False, "error": "INBOUND_SECRET is not set"}, 404)
        try:
            body = await read_capped(request, MAX_REPLY_BODY)
            stamp = request.headers.get(TIMESTAMP_HEADER, "")
            if not is_valid(secret, stamp, request.headers.get(SIGNATURE_HEADER, ""), body):
                raise Refused(401, "bad signature or timestamp")
        except Refused as refused:
            refusal_line("a customer reply", refused)
            return refused.response()
        except ClientDisconnect:
            return Response(status_code=400)
        try:
            reply = check_reply(parse_json(body))
        except InvalidReply as exc:
            log.info("refused a customer reply (400): %s", exc)
            return JSONResponse({"ok": False, "error": str(exc)}, 400)
        key = request_key(stamp, body)
        if not await claim_request(db, key, REPLY_KIND):
            log.info("customer reply already received: %s", key[:24])
            return JSONResponse({"ok": True, "duplicate": True})
        try:
            number = await file_reply(db, reply)
        except DisputeClosed as exc:
            await release_request(db, key)
            return JSONResponse({"ok": False, "error": closed_answer(exc)}, 409)
        except DisputeError as exc:
            await release_request(db, key)
            return JSONResponse({"ok": False, "error": str(exc)}, 404)
        except Exception:
            with contextlib.suppress(Exception):
                await release_request(db, key)
            raise
        deps.submit(lambda: deps.threads.customer_replied(number, reply.sender, reply.body), None)
        return JSONResponse({"ok": True, "dispute": f"D-{number}"})

    return customer_reply


def parse_json(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidReply("expected a JSON object with dispute, from and body") from None


def closed_answer(exc: DisputeClosed) -> str:
    """For the helpdesk or relay that sent a reply to a closed dispute: it was not filed, so
    it must stay with them."""
    status = exc.status.replace("_", " ")
    return (
        f"D-{exc.number} is {status} and takes no more replies: this reply was not filed. "
        "Keep it in your helpdesk for the team to answer."
    )
