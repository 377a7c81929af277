"""One setting for every fuzz test: a bounded number of examples in CI, more by hand.

DISPUTE_DESK_FUZZ_EXAMPLES=5000 ./dev test -k fuzz
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("DISPUTE_DESK_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
