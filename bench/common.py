"""What the benchmarks share: the demo orders and channel, percentiles, the best of several
timings, how numbers print, polling, and a process's CPU time."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "sandbox" / "world" / "fixtures" / "orders"
CHANNEL = "C0DISPUTES"
START_TIMEOUT = 30.0


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 200 values is the 198th smallest)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


async def wait_until(check: Callable[[], bool], within: float, interval: float = 0.01) -> bool:
    """Poll `check` until it is true (True) or `within` seconds pass (False)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def best_of(times: int, measure: Callable[[], Awaitable[Any]]) -> float:
    """The shortest of `times` runs of `measure` (at least one), in seconds."""
    best = float("inf")
    for _ in range(max(times, 1)):
        started = time.perf_counter()
        await measure()
        best = min(best, time.perf_counter() - started)
    return best
