"""The pack in force: loaded at start, swapped only for a newer file that passes lint."""

from __future__ import annotations

import logging
from pathlib import Path

from policies.loader import LoadedPack, PackError, load_pack

log = logging.getLogger(__name__)


class CurrentPack:
    """Holds the pack in force; `refresh()` picks up an edited file when it is clean."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pack: LoadedPack = load_pack(path)  # a broken pack stops start-up here
        self._mtime = 0.0
        self._mtime = self._stat()

    def _stat(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:  # a file being replaced: keep what is in force
            return self._mtime

    def refresh(self) -> LoadedPack:
        """The pack to use now: the edited file if it loads cleanly, else the one in force."""
        mtime = self._stat()
        if mtime == self._mtime:
            return self.pack
        self._mtime = mtime
        try:
            candidate = load_pack(self.path)
        except PackError as exc:
            log.error(
                "policy pack %s was edited but fails lint; keeping version %s:\n%s",
                self.path,
                self.pack.pack.version,
                "\n".join(str(problem) for problem in exc.problems),
            )
            return self.pack
        if candidate.content_hash != self.pack.content_hash:
            log.info("policy pack %s %s now in force", candidate.pack.pack, candidate.pack.version)
            self.pack = candidate
        return self.pack
