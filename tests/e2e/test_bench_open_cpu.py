"""`bench.open_cpu` runs end to end on a few opens: every open answered, both figures printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_answers_every_open_and_prints_its_figures() -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "bench.open_cpu", "--opens", "10", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "(10/10 opens answered)" in ran.stdout
    opened = re.search(r"CPU per /dispute open: ([\d.]+) ms", ran.stdout)
    helped = re.search(r"CPU per /dispute help: (-?[\d.]+) ms", ran.stdout)
    assert opened and helped, ran.stdout
    # Ten helps are about one tick of /proc's CPU count: only the order is certain.
    assert float(opened.group(1)) > float(helped.group(1))
