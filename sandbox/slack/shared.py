"""What the stores of one workspace share: the lock, the clock, one id counter, and the version
number the page's event stream watches."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

Clock = Callable[[], float]


class Shared:
    """One lock for every store (the HTTP layer calls them from several threads), one clock and
    one counter, so ids and versions are the workspace's, not a store's."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        # Bumped by every change a person could see; the page's event stream watches it.
        self.version = 0
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        """The next number of the workspace's one counter (files, views, trigger_ids)."""
        return next(self._ids)

    def changed(self) -> int:
        """Note a visible change (messages, ephemerals, views); returns the new version."""
        with self.lock:
            self.version += 1
            return self.version
