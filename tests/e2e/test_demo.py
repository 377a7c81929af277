"""`dispute-desk demo` from an unrelated folder: URL first, then a transcript of real threads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx


def test_demo_prints_the_page_first_and_opens_disputes_through_slack(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--no-wait", "--data", str(tmp_path / "d")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Dispute Desk sandbox: http://127.0.0.1:")
    transcript = result.stdout
    for expected in (
        "D-1 · ORD-1001 · Damaged",
        "D-2 · ORD-1017",
        "Evidence · D-1",
        "Opened *D-1*",
        "#disputes",
    ):
        assert expected in transcript, expected
    assert (tmp_path / "d" / "dispute-desk.db").exists()


def test_demo_page_serves_the_channel_while_running(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", "--data", str(tmp_path / "d")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.rsplit(" ", 1)[-1].strip()
        for line in process.stdout:  # wait for the demo to finish opening disputes
            if "Ctrl-C" in line:
                break
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200
        assert "ORD-1001" in page.text and "Evidence" in page.text
    finally:
        process.terminate()
        assert process.wait(15) == 0
