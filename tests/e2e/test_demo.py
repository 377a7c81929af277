"""`dispute-desk demo` from an unrelated folder: URL first, a seeded world, a clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.demo import demo_settings
from bot.demo_world import new_secrets
from bot.settings import default_sla_file
from disputes.insight_report import Period
from disputes.insights import InsightsService
from disputes.weekly_schedule import WeeklyAt, week_due
from policies.sla import SlaPolicy
from storage.db import Database
from tests.support.localstripe import API_KEY, require_localstripe

# The seeds in the order they are opened, after the history's numbers (`Demo.ref`).
STATES = {
    "ORD-1001": "Resolved",
    "ORD-1003": "Proposed",
    "ORD-1005": "In review",
    "ORD-1017": "Evidence ready",  # a refund the order system made never arrived
    "ORD-1009": "New",
}


def _env() -> dict[str, str]:
    prefixes = ("SLACK_", "DATABASE_", "STRIPE_", "REFUND_", "ROLES_", "ORDER_", "CUSTOMER_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def _demo(folder: Path, cwd: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", "demo", "--data", str(folder), *extra]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with_children = (task / "children").read_text().split()
        found.update(int(child) for child in with_children)
    return found


@dataclass
class Demo:
    process: subprocess.Popen[str]
    output: str
    folder: Path

    @property
    def page(self) -> str:
        return self.output.splitlines()[0].rsplit(" ", 1)[-1].strip()

    @property
    def stripe(self) -> str:
        found = re.search(r"localstripe: (http://127\.0\.0\.1:\d+) \(pid (\d+)\)", self.output)
        assert found, self.output
        return found.group(1)

    @property
    def history(self) -> int:
        """How many closed disputes the demo's history holds (D-1 .. D-n)."""
        found = re.search(
            r"History: (\d+) closed disputes over 90 days \(D-1 \.\. D-\1\)", self.output
        )
        assert found, self.output
        return int(found.group(1))

    def ref(self, order_id: str) -> str:
        """The seeded dispute of `order_id`: numbered after the history, in STATES' order."""
        return f"D-{self.history + 1 + list(STATES).index(order_id)}"

    @property
    def stripe_pid(self) -> int:
        found = re.search(r"localstripe: \S+ \(pid (\d+)\)", self.output)
        assert found, self.output
        return int(found.group(1))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    require_localstripe()
    tmp = tmp_path_factory.mktemp("demo")
    process = subprocess.Popen(
        _demo(tmp / "d", tmp),
        cwd=tmp,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # until the demo has opened its disputes
            lines.append(line)
            if "Ctrl-C" in line:
                break
        assert lines and "Ctrl-C" in lines[-1], "".join(lines)
        yield Demo(process, "".join(lines), tmp / "d")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(15)


def test_the_page_url_comes_first_and_the_transcript_shows_each_state(demo: Demo) -> None:
    assert demo.output.startswith("Dispute Desk sandbox: http://127.0.0.1:")
    for order_id, state in STATES.items():
        head = f"{demo.ref(order_id)} · {order_id}"
        assert re.search(rf"\*{head} · [^*]* · {state}\*", demo.output), (head, state)
    assert f"Refunded *40.00 USD* for {demo.ref('ORD-1001')}" in demo.output
    assert "Customer mail (SMTP sink): smtp://127.0.0.1:" in demo.output
    assert {"dispute-desk.db", "orders", "roles.yml"} <= {p.name for p in demo.folder.iterdir()}


def test_the_page_serves_the_channel_with_the_seeded_disputes(demo: Demo) -> None:
    page = httpx.get(demo.page, timeout=10)
    assert page.status_code == 200
    for order_id, state in STATES.items():
        assert order_id in page.text
        assert state in page.text, state


def _seen(demo: Demo, user: str, channel: str) -> list[dict[str, object]]:
    answer = httpx.get(
        f"{demo.page}_sandbox/state", params={"user": user, "channel": channel}, timeout=10
    )
    return list(answer.json()["messages"])


def test_the_supervisors_digest_names_the_late_disputes_and_take_works_from_it(
    demo: Demo,
) -> None:
    digests = [
        m for m in _seen(demo, "U0SUPER", "C0SUPERVISORS") if "Bottlenecks" in str(m["text"])
    ]
    assert len(digests) == 1, digests
    digest = digests[0]
    shown = json.dumps(digest["blocks"])
    assert "Approval overdue" in shown and "Owner: <@U0MANAGER2>" in shown  # ORD-1003
    assert "Review overdue" in shown and "Owner: <@U0MANAGER1>" in shown  # ORD-1005
    assert "First response overdue" in shown and "Owner: nobody" in shown  # ORD-1017
    blocks: list[dict[str, str]] = digest["blocks"]  # type: ignore[assignment]
    # The actions under ORD-1017's line.
    line = f"|{demo.ref('ORD-1017')}>*"
    block = next(blocks[i + 1]["block_id"] for i, b in enumerate(blocks) if line in json.dumps(b))
    clicked = httpx.post(
        f"{demo.page}_sandbox/ui/action",
        json={
            "user": "U0MANAGER1",
            "channel": "C0SUPERVISORS",
            "message_ts": digest["ts"],
            "action_id": "alert.take",
            "block_id": block,
        },
        timeout=10,
    )
    assert clicked.json()["ok"], clicked.text
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        parents = _seen(demo, "U0MANAGER1", "C0DISPUTES")
        late = next(m for m in parents if "ORD-1017" in str(m["text"]))
        if "Owner: <@U0MANAGER1>" in json.dumps(late["blocks"]):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("ORD-1017's dispute was not taken from the digest")


def test_localstripe_holds_the_shops_refunds_and_exactly_one_of_ours(demo: Demo) -> None:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    answer = httpx.get(f"{demo.stripe}/v1/refunds?limit=100", headers=auth, timeout=10).json()
    refunds = answer["data"]
    assert not answer["has_more"]
    orders = [json.loads(p.read_text()) for p in sorted((demo.folder / "orders").glob("*.json"))]
    by_payment = {o["payment"]["reference"]: o for o in orders}
    ours = [r for r in refunds if (r.get("metadata") or {}).get("refund_request")]
    assert [(r["amount"], by_payment[r["payment_intent"]]["order_id"]) for r in ours] == [
        (4000, "ORD-1001")
    ]
    shops = {by_payment[r["payment_intent"]]["order_id"]: r["amount"] for r in refunds}
    shops = {k: v for k, v in shops.items() if k != "ORD-1001"}
    claimed = {
        o["order_id"]
        for o in orders
        if ((o.get("return_request") or {}).get("decision") or {}).get("outcome")
        in ("refunded", "partial_refund")
    }
    assert set(shops) == claimed - {"ORD-1017"}  # its refund never left: the seeded dispute
    assert "ORD-1017" in claimed


def test_the_refund_not_received_dispute_shows_its_payment_ledger(demo: Demo) -> None:
    snapshot = httpx.get(demo.page.rstrip("/") + "/_sandbox/state", timeout=10).json()
    channel = next(c for c in snapshot["channels"] if c["id"] == "C0DISPUTES")
    parent = next(m for m in channel["messages"] if "· ORD-1017 ·" in m["text"])
    assert "Refund not received" in parent["text"]
    card = json.dumps(next(r for r in parent["thread"] if "Evidence" in r["text"])["blocks"])
    assert "Payment ledger" in card and "Discrepancy" in card
    assert "72.00 USD never reached the customer" in card


async def test_the_history_gives_insights_something_to_show(demo: Demo) -> None:
    """The demo's 90 days of closed disputes: every KPI of the last 30 days has a value, an
    upstream problem is flagged, evidence has a measured effect, the weekly chart has points."""
    db = Database(f"sqlite+aiosqlite:///{demo.folder / 'dispute-desk.db'}")
    try:
        service = InsightsService(db, SlaPolicy.load(default_sla_file()))
        now = datetime.now(UTC)
        report = await service.report(Period.parse("30d", now))
        weeks = await service.trend(now)
    finally:
        await db.dispose()
    assert 150 <= demo.history <= 250
    assert report.disputes.resolved > 50 and report.time_to_resolve_hours.median
    assert report.first_contact_resolution_rate and report.csat.score and report.refunds_paid
    assert all(stage.runs for stage in report.sla_breach_rate)
    assert any(g.flagged for groups in report.recurring.values() for g in groups)
    assert any(e.note is None for e in report.evidence_effect)
    assert all(week.resolved and week.median_hours for week in weeks)


def test_the_weekly_report_charts_the_history(demo: Demo) -> None:
    """Made at start (the history is written before the app starts) once this week's moment
    (`mon 09:00` in the SLA file's timezone) has come; before it, no report at all."""
    zone = SlaPolicy.load(default_sla_file()).calendar.zone
    due = week_due(datetime.now(UTC), WeeklyAt.parse("mon 09:00"), zone) is not None
    deadline = time.monotonic() + (30 if due else 3)
    reports: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        reports = [
            m
            for m in _seen(demo, "U0SUPER", "C0SUPERVISORS")
            if str(m["text"]).startswith("*Weekly insights*")
        ]
        if reports:
            break
        time.sleep(0.5)
    assert len(reports) == (1 if due else 0), reports
    if not due:
        return
    text = str(reports[0]["text"])
    opened = re.search(r"(\d+) disputes opened, (\d+) resolved", text)
    assert opened and int(opened.group(1)) > 5 and int(opened.group(2)) > 5, text
    assert reports[0].get("files"), reports[0]


def _kept_data(folder: Path) -> dict[str, bytes]:
    """What a second demo must not touch: the orders and roles (the database is live)."""
    kept = {p.name: p.read_bytes() for p in (folder / "orders").glob("*.json")}
    kept["roles.yml"] = (folder / "roles.yml").read_bytes()
    return kept


def test_a_second_demo_on_the_same_folder_stops_at_once_touching_nothing(demo: Demo) -> None:
    names = {p.name for p in demo.folder.iterdir()}
    kept = _kept_data(demo.folder)
    second = subprocess.run(
        _demo(demo.folder, demo.folder.parent),
        cwd=demo.folder.parent,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2, second
    assert second.stdout == ""
    assert len(second.stderr.strip().splitlines()) == 1, second.stderr
    assert f"another demo is using {demo.folder}" in second.stderr
    assert "--data DIR" in second.stderr
    assert {p.name for p in demo.folder.iterdir()} == names
    assert _kept_data(demo.folder) == kept
    assert httpx.get(demo.page, timeout=10).status_code == 200  # the first one goes on


def test_sigint_stops_everything_within_15_seconds(demo: Demo) -> None:
    children = _children(demo.process.pid)
    assert demo.stripe_pid in children
    started = time.monotonic()
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(15) == 0
    assert time.monotonic() - started < 15
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in children if _alive(pid)]


def test_a_killed_demo_takes_localstripe_with_it_and_keep_reuses_the_folder(
    tmp_path: Path,
) -> None:
    require_localstripe()
    folder = tmp_path / "d"
    first = subprocess.run(
        _demo(folder, tmp_path, "--no-wait"),
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    paid = (folder / "orders" / "ORD-1003.json").read_text()

    # --keep: same database and paid orders, nothing opened twice; then SIGKILL mid-run.
    process = subprocess.Popen(
        _demo(folder, tmp_path, "--keep"),
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        output = "".join(lines)
        assert "Opened *D-" not in output
        assert (folder / "orders" / "ORD-1003.json").read_text() == paid
        stripe_pid = int(re.search(r"\(pid (\d+)\)", output).group(1))  # type: ignore[union-attr]
    finally:
        process.kill()
        process.wait(15)
    deadline = time.monotonic() + 5
    while _alive(stripe_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(stripe_pid)

    # The killed demo's lock went with it: the next run on the folder gets it.
    again = subprocess.run(
        _demo(folder, tmp_path, "--keep", "--no-wait"),
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert "another demo" not in again.stderr


def test_slack_requests_and_customer_replies_are_signed_with_different_secrets(
    tmp_path: Path,
) -> None:
    keys = new_secrets()
    settings = demo_settings(
        bot_token="xoxb-demo",
        api_url="http://127.0.0.1:9/api/",
        database=tmp_path / "demo.db",
        orders=tmp_path,
        roles=tmp_path / "roles.yml",
        stripe_url="http://127.0.0.1:9",
        mail_url="smtp://127.0.0.1:9",
        keys=keys,
    )
    signing, inbound = settings.slack_signing_secret or "", settings.inbound_secret or ""
    # Compared without being shown: a failure message must not print either secret.
    same = signing == inbound
    assert not same, "the demo signs Slack requests and customer replies with one secret"
    strong = min(len(signing), len(inbound)) >= 32
    assert strong, "the demo's secrets are shorter than 32 characters"
    hidden = signing not in repr(keys) and inbound not in repr(keys)
    assert hidden, "the demo's secrets show in the repr of DemoSecrets"
    again = new_secrets()
    fresh = again.signing != keys.signing and again.inbound != keys.inbound
    assert fresh, "the demo's secrets are not new on each run"
