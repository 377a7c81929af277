"""Every Web API call the app made, and the faults a test armed for the next calls of a method:
a 429, an error answer, or an answer that comes too late (the call done, its answer lost to the
caller)."""

from __future__ import annotations

import copy
from typing import Any

from sandbox.slack.records import RateLimit
from sandbox.slack.shared import Shared


class CallLog:
    """The calls, in order, and the armed rate limits by method."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.ratelimits: dict[str, RateLimit] = {}
        self.late_answers: dict[str, list[float | None]] = {}
        self.errors: dict[str, list[str]] = {}

    def arm_ratelimit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Make the next `times` calls of `method` answer HTTP 429 with Retry-After."""
        with self.shared.lock:
            self.ratelimits[method] = RateLimit(retry_after, times)

    def take_ratelimit(self, method: str) -> int | None:
        """Retry-After seconds if this call is rate limited, spending one armed 429."""
        with self.shared.lock:
            rl = self.ratelimits.get(method)
            if rl is None or rl.times <= 0:
                return None
            rl.times -= 1
            return rl.retry_after

    def arm_error(self, method: str, error: str, times: int = 1) -> None:
        """Make the next `times` calls of `method` answer `{"ok": false, "error": error}`."""
        with self.shared.lock:
            self.errors[method] = [error] * times

    def take_error(self, method: str) -> str | None:
        """The error this call answers with, spending one armed error; None for none."""
        with self.shared.lock:
            armed = self.errors.get(method)
            return armed.pop(0) if armed else None

    def arm_late_answer(
        self, method: str, seconds: float, times: int = 1, *, after: int = 0
    ) -> None:
        """Carry out the `times` calls of `method` that follow the next `after` ones, but
        answer each only after `seconds`: a caller that gives up sooner never learns the call
        was done."""
        with self.shared.lock:
            self.late_answers[method] = [None] * after + [seconds] * times

    def take_late_answer(self, method: str) -> float | None:
        """Seconds to hold this call's answer back (None: at once), spending one armed turn."""
        with self.shared.lock:
            armed = self.late_answers.get(method)
            return armed.pop(0) if armed else None

    def record_call(self, method: str, params: dict[str, Any]) -> None:
        """Keep every Web API call so tests can assert on what the app sent."""
        with self.shared.lock:
            self.calls.append((method, copy.deepcopy(params)))

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The params of every call of `method`, in order."""
        with self.shared.lock:
            return [p for m, p in self.calls if m == method]
