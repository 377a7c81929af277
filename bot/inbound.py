"""`POST /api/customer-replies`: replies from the customer channel (email, helpdesk), signed."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.customers.inbound import SIGNATURE_HEADER, TIMESTAMP_HEADER, is_valid
from disputes.customer import InvalidReply, check_reply, file_reply
from disputes.errors import DisputeClosed, DisputeError
from handlers.deps import Deps
from storage.db import Database


def inbound_endpoint(db: Database, deps: Deps, secret: str | None):  # type: ignore[no-untyped-def]
    async def customer_reply(request: Request) -> Response:
        if not secret:
            return JSONResponse({"ok": False, "error": "INBOUND_SECRET is not set"}, 404)
        body = await request.body()
        stamp = request.headers.get(TIMESTAMP_HEADER, "")
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not is_valid(secret, stamp, given, body):
            return JSONResponse({"ok": False, "error": "bad signature or timestamp"}, 401)
        try:
            reply = check_reply(json.loads(body or b"null"))
            number = await file_reply(db, reply)
        except (ValueError, InvalidReply) as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, 400)
        except DisputeClosed as exc:
            return JSONResponse({"ok": False, "error": closed_answer(exc)}, 409)
        except DisputeError as exc:
            return JSONResponse({"ok": False, "error": str(exc)}, 404)
        deps.submit(lambda: deps.threads.customer_replied(number, reply.sender, reply.body), None)
        return JSONResponse({"ok": True, "dispute": f"D-{number}"})

    return customer_reply


def closed_answer(exc: DisputeClosed) -> str:
    """For the helpdesk or relay that sent a reply to a closed dispute: it was not filed, so
    it must stay with them."""
    status = exc.status.replace("_", " ")
    return (
        f"D-{exc.number} is {status} and takes no more replies: this reply was not filed. "
        "Keep it in your helpdesk for the team to answer."
    )
