"""Slack's rate limits, emulated: chat.postMessage about once a second per channel with short
bursts, every other method by its tier (calls per minute, per method). Off until a test or the
sandbox turns them on; `scale` speeds the world up (10: ten times Slack's limits), so a
scenario that meets the limits runs in seconds. A refused call gets what Slack answers: HTTP
429, `Retry-After` in whole seconds, `{"ok": false, "error": "ratelimited"}`."""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from sandbox.slack.shared import Shared

# Calls per minute of each tier (Slack's documented floors: "1+", "20+", "50+", "100+").
TIERS = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIERS = {
    "apps.connections.open": 1,
    "auth.test": 4,
    "chat.getPermalink": 4,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "conversations.history": 3,
    "conversations.info": 3,
    "conversations.join": 3,
    "conversations.list": 2,
    "conversations.replies": 3,
    "files.completeUploadExternal": 4,
    "files.getUploadURLExternal": 4,
    "files.info": 4,
    "usergroups.users.list": 2,
    "users.info": 4,
    "views.open": 4,
    "views.publish": 4,
    "views.push": 4,
    "views.update": 4,
}
PER_CHANNEL = "chat.postMessage"


@dataclass(frozen=True)
class SlackLimits:
    """What the emulator enforces: posts per second into one channel (and how many may come
    at once), and each method's calls per minute; all multiplied by `scale`."""

    posts_per_second: float = 1.0
    post_burst: int = 3
    per_minute: dict[str, int] = field(
        default_factory=lambda: {m: TIERS[t] for m, t in METHOD_TIERS.items()}
    )
    scale: float = 1.0

    @classmethod
    def slack(cls, scale: float = 1.0) -> SlackLimits:
        """Slack's own limits, `scale` times faster."""
        return cls(scale=scale)

    def to_json(self) -> dict[str, Any]:
        return {
            "posts_per_second": self.posts_per_second,
            "post_burst": self.post_burst,
            "per_minute": dict(self.per_minute),
            "scale": self.scale,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SlackLimits:
        base = cls()
        return cls(
            posts_per_second=float(data.get("posts_per_second", base.posts_per_second)),
            post_burst=int(data.get("post_burst", base.post_burst)),
            per_minute={**base.per_minute, **dict(data.get("per_minute") or {})},
            scale=float(data.get("scale", base.scale)),
        )


class _Bucket:
    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, max(burst, 1.0)
        self.tokens, self.updated = self.burst, now

    def take(self, now: float) -> float | None:
        """None when a call may go now (it spends a token); else seconds until one may."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) / self.rate


class _Window:
    """At most `limit` calls in any `seconds`."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.calls: deque[float] = deque()

    def take(self, now: float) -> float | None:
        while self.calls and self.calls[0] <= now - self.seconds:
            self.calls.popleft()
        if len(self.calls) < self.limit:
            self.calls.append(now)
            return None
        return self.calls[0] + self.seconds - now


class RateLimits:
    """The limits in force (None: off) and what they refused, by (method, channel)."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.limits: SlackLimits | None = None
        self.refused: Counter[tuple[str, str | None]] = Counter()
        self.allowed: Counter[tuple[str, str | None]] = Counter()
        self._buckets: dict[str, _Bucket] = {}
        self._windows: dict[str, _Window] = {}

    def set_limits(self, limits: SlackLimits | None) -> None:
        """Enforce `limits` from now on (None: none), counting afresh."""
        with self.shared.lock:
            self.limits = limits
            self.refused.clear()
            self.allowed.clear()
            self._buckets.clear()
            self._windows.clear()

    def check(self, method: str, channel: str | None) -> int | None:
        """Retry-After (whole seconds) when this call is over a limit, else None (and the call
        counts against its limits)."""
        with self.shared.lock:
            limits = self.limits
            if limits is None:
                return None
            now = self.shared.clock()
            if method == PER_CHANNEL:
                key: tuple[str, str | None] = (method, channel)
                bucket = self._buckets.get(channel or "")
                if bucket is None:
                    rate = limits.posts_per_second * limits.scale
                    bucket = _Bucket(rate, limits.post_burst * limits.scale, now)
                    self._buckets[channel or ""] = bucket
                wait = bucket.take(now)
            elif method in limits.per_minute:
                key = (method, None)
                window = self._windows.get(method)
                if window is None:
                    window = _Window(limits.per_minute[method], 60.0 / limits.scale)
                    self._windows[method] = window
                wait = window.take(now)
            else:
                return None
            if wait is None:
                self.allowed[key] += 1
                return None
            self.refused[key] += 1
            return max(1, math.ceil(wait))

    def counts(self) -> dict[str, Any]:
        """What was refused and allowed, by method and channel, as JSON-friendly data."""
        with self.shared.lock:
            return {
                "limits": self.limits.to_json() if self.limits else None,
                "refused": [
                    {"method": m, "channel": c, "count": n} for (m, c), n in self.refused.items()
                ],
                "allowed": [
                    {"method": m, "channel": c, "count": n} for (m, c), n in self.allowed.items()
                ],
            }
