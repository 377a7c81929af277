"""Reading a provider's answer: a body we cannot read, or a refund we did not ask for."""

from __future__ import annotations

from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from connectors.refunds.protocol import RefundError, RefundOrder, RefundResult, RefundUncertain

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


def check_answer(
    order: RefundOrder, result: RefundResult, *, request_id: str | None, provider: str
) -> RefundResult:
    """`result` when it is the refund we asked for; otherwise a `RefundError` naming it."""
    problems = []
    if result.amount_minor != order.amount_minor:
        problems.append(f"amount {result.amount_minor} instead of {order.amount_minor}")
    if result.currency != order.currency.upper():
        problems.append(f"currency {result.currency} instead of {order.currency.upper()}")
    if request_id not in (None, order.request_id):
        problems.append(f"refund request {request_id} instead of {order.request_id}")
    if problems:
        raise RefundError(
            f"{provider} refund {result.provider_refund_id} is not what we asked for: "
            + ", ".join(problems),
            code="mismatch",
            provider_refund_id=result.provider_refund_id,
        )
    return result


def refused(provider: str, status_code: int, message: str | None, code: str | None) -> RefundError:
    """A definite refusal in one wording for every provider: its message, then its code."""
    text = f"{provider} refused the refund: {message or f'HTTP {status_code}'}"
    return RefundError(text + (f" ({code})" if code else ""), code=code, status_code=status_code)
