"""`./dev` on first use: one line per set-up step, pip's output kept in a log that is shown only
when the install fails. A stand-in Python plays venv and pip, so nothing is downloaded."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAKE_PYTHON = """#!/usr/bin/env bash
# Stands in for python3: `-c` checks pass, `-m venv DIR` makes DIR/bin with this stand-in as its
# python and a dispute-desk command, `-m pip` is as noisy as a first install.
case "$1 $2" in
  "-m venv")
    mkdir -p "$3/bin"; cp "$0" "$3/bin/python"
    printf '#!/usr/bin/env bash\\necho "dispute-desk $*"\\n' >"$3/bin/dispute-desk"
    chmod +x "$3/bin/dispute-desk" ;;
  "-m pip")
    for n in $(seq 60); do echo "WARNING: pip noise $n"; done
    echo "pip noise on stderr" >&2
    exit "${PIP_EXIT:-0}" ;;
esac
exit 0
"""


def _project(tmp: Path) -> tuple[Path, dict[str, str]]:
    shutil.copy(ROOT / "dev", tmp / "dev")
    (tmp / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    fake = tmp / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    return tmp / "dev", {**os.environ, "PYTHON": str(fake)}


def _run(dev: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(dev), "demo", "--no-wait"],
        cwd=dev.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_first_run_prints_one_line_per_step_and_keeps_pips_output_in_a_log(
    tmp_path: Path,
) -> None:
    dev, env = _project(tmp_path)
    first = _run(dev, env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "dispute-desk demo --no-wait\n"
    assert first.stderr.splitlines() == [
        "dev: creating .venv",
        "dev: installing dependencies (first run, about a minute; log in .venv/pip.log)",
        "dev: dependencies installed",
    ]
    log = (tmp_path / ".venv" / "pip.log").read_text()
    assert "pip noise 60" in log and "pip noise on stderr" in log
    again = _run(dev, env)
    assert (again.returncode, again.stdout, again.stderr) == (0, first.stdout, "")


def test_a_failed_install_shows_the_end_of_the_log_and_stops(tmp_path: Path) -> None:
    dev, env = _project(tmp_path)
    failed = _run(dev, {**env, "PIP_EXIT": "1"})
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert "pip noise on stderr" in failed.stderr
    assert failed.stderr.splitlines()[-1] == (
        "dev: installing the dependencies failed (above: the end of .venv/pip.log)"
    )
    assert not (tmp_path / ".venv" / ".installed").exists()
