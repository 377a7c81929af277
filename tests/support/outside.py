"""Tests that need something outside the repository (PostgreSQL server binaries, localstripe,
Chromium, the shared design folder beside the clone) skip with a reason on a laptop without it
and fail in CI, where `.ci/run` provides it: a green CI run never hides a missing part."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip with `reason`; in CI, fail with it."""
    if IN_CI:
        pytest.fail(f"needed in CI: {reason}", pytrace=False)
    pytest.skip(reason)
