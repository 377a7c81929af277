"""Waiting for the sandbox to reach a state: the app works after its ack, so callers poll."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], T | None], within: float = 15.0) -> T:
    """Poll `check` every 50 ms until it returns something truthy, or fail after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("the expected state was not reached in time")
        await asyncio.sleep(0.05)
