"""Typed errors a service raises; each carries the sentence a user should read."""

from __future__ import annotations


class DisputeError(Exception):
    """Base class: `str(error)` is safe and useful to show to the person who asked."""


class DisputeNotFound(DisputeError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"There is no dispute {ref}. Check the number, e.g. `/dispute show D-1`.")
        self.ref = ref


class OrderNotFound(DisputeError):
    def __init__(self, order_id: str) -> None:
        super().__init__(
            f"The order system has no order {order_id}. Check the order id and try again; "
            "no dispute was created."
        )
        self.order_id = order_id


class OrderSystemUnavailable(DisputeError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            f"The order system could not be reached ({detail}). No dispute was created; "
            "please try again in a minute."
        )
        self.detail = detail


class DisputeClosed(DisputeError):
    def __init__(self, number: int, status: str) -> None:
        super().__init__(
            f"D-{number} is {status.replace('_', ' ')}: its case file is closed and takes no "
            "more evidence. Open a new dispute if the case needs another look."
        )
        self.number = number
        self.status = status


class InvalidTransition(DisputeError):
    def __init__(self, current: str, event: str) -> None:
        super().__init__(
            f"That step is not possible now: a dispute that is {current.replace('_', ' ')} "
            f"cannot take `{event.replace('_', ' ')}`."
        )
        self.current = current
        self.event = event


class NotAllowed(DisputeError):
    """The person is not permitted to do this."""
