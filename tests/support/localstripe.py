"""localstripe for the tests: the package's runner (sandbox.world.localstripe_runner), plus a
skip rule.

localstripe is GPL-licensed: it is only ever run as an installed package, never copied here.
"""

from __future__ import annotations

import importlib.util

from sandbox.world.localstripe_runner import API_KEY, create_payment, localstripe_server
from tests.support.outside import unavailable

__all__ = [
    "API_KEY",
    "create_payment",
    "localstripe_installed",
    "localstripe_server",
    "require_localstripe",
]


def localstripe_installed() -> bool:
    return importlib.util.find_spec("localstripe") is not None


def require_localstripe() -> None:
    """Skip the test on a laptop without localstripe; fail in CI, where it must be installed."""
    if localstripe_installed():
        return
    unavailable("localstripe is not installed (pip install -e .)")
