"""Reading a provider's answer, in one wording for every gateway: a body we cannot read, a
refusal, a look-up that failed, and refunds put in order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from connectors.refunds.protocol import RefundError, RefundResult, RefundUncertain

Model = TypeVar("Model", bound=BaseModel)


def read_answer(model: type[Model], response: httpx.Response, *, provider: str) -> Model:
    """The body as `model`; a 2xx we cannot read may still mean money moved: uncertain."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise RefundUncertain(
            f"{provider} answered HTTP {response.status_code} with a body we cannot read: "
            f"{where}: {first['msg']}"
        ) from None


def read_error(model: type[Model], response: httpx.Response) -> Model | None:
    """A provider's error body as `model`, or None when it is not one."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        return None


def refused(provider: str, status_code: int, message: str | None, code: str | None) -> RefundError:
    """A definite refusal in one wording for every provider: its message, then its code."""
    text = f"{provider} refused the refund: {message or f'HTTP {status_code}'}"
    return RefundError(text + (f" ({code})" if code else ""), code=code, status_code=status_code)


def lookup_failed(
    provider: str, response: httpx.Response, message: str | None = None
) -> RefundUncertain:
    """A look-up answered with an error status: it says nothing about whether money moved."""
    reason = message or response.reason_phrase or "no message"
    return RefundUncertain(
        f"{provider} could not list refunds: HTTP {response.status_code}: {reason}"
    )


def as_utc(moment: datetime | None) -> datetime | None:
    """An aware datetime in UTC; a naive one is read as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def oldest_first(refunds: list[RefundResult], *, ties_by_id: bool) -> list[RefundResult]:
    """By `created_at` when every refund says when it was made, otherwise in the order given
    (which the caller makes oldest first). Refunds made at the same moment keep the order given,
    or go by provider id with `ties_by_id`."""
    dated = [(refund.created_at, refund) for refund in refunds if refund.created_at is not None]
    if len(dated) < len(refunds):
        return list(refunds)
    dated.sort(key=lambda pair: (pair[0], pair[1].provider_refund_id if ties_by_id else ""))
    return [refund for _, refund in dated]
