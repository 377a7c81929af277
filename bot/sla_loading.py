"""Load the SLA file (`SLA_FILE`) at start-up: every problem in it stops the start."""

from __future__ import annotations

from pathlib import Path

from bot.errors import StartupError
from policies.sla import SlaPolicy
from policies.sla_file import SlaError


def load_sla(path: Path) -> SlaPolicy:
    """The SLA policy, or a start-up error listing every problem in the file."""
    try:
        return SlaPolicy.load(path)
    except SlaError as exc:
        problems = "\n".join(str(problem) for problem in exc.problems)
        raise StartupError(f"SLA_FILE {path} has problems:\n{problems}") from None
