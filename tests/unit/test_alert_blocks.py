"""The digest and the daily summary: within Slack's limits however many alerts and whatever
their text, hostile text escaped, buttons only where they do something."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from blocks.alerts import MAX_LINES, digest_message, summary_message
from disputes.alerts import AlertLine, DigestView, Kind, State
from sandbox.slack.blockkit import validate_message

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOSTILE = "<!channel> *bold* <https://evil.example|click> & " + "x" * 4000


def line(n: int, kind: Kind = Kind.BREACHED, **values: object) -> AlertLine:
    base: dict[str, object] = {
        "alert_id": n,
        "kind": kind,
        "stage": "in_review",
        "state": State.SENT,
        "number": n,
        "order_id": HOSTILE,
        "reason": "DAMAGED",
        "status": "in_review",
        "priority": HOSTILE,
        "owner_id": "U0MANAGER1",
        "details": {"due_at": NOW.isoformat()},
    }
    return AlertLine(**{**base, **values})  # type: ignore[arg-type]


def view(lines: list[AlertLine], **summary: object) -> DigestView:
    return DigestView(1, "digest", NOW, lines, dict(summary))


def test_five_hundred_alerts_fit_one_message() -> None:
    kinds = list(Kind)
    lines = [line(n, kinds[n % len(kinds)], person="U0AGENT") for n in range(1, 501)]
    message = digest_message(view(lines), {n: f"https://x.slack.com/p{n}" for n in range(1, 501)})
    assert validate_message(message.text, message.blocks) == []
    shown = json.dumps(message.blocks, ensure_ascii=False)
    assert f"…and {500 - MAX_LINES} more" in shown
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert message.text == "Bottlenecks: 500 new alerts"


def test_each_kind_in_words() -> None:
    lines = [
        line(1),
        line(2, stage="awaiting_customer"),
        line(3, Kind.WARNING),
        line(4, Kind.UNASSIGNED, stage="urgent", owner_id=None),
        line(5, Kind.ATTENTION, stage="executing"),
        line(6, Kind.OVER_CAP, number=None, person="U0AGENT", details={"open": 9, "cap": 5}),
    ]
    shown = json.dumps(digest_message(view(lines)).blocks)
    assert "*Review overdue*" in shown
    assert "*Waiting on the customer too long*" in shown
    assert "*Review nearly due*" in shown
    assert "priority, and nobody owns it" in shown
    assert "*The refund needs attention*" in shown
    assert "<@U0AGENT> holds *9* open disputes, over their cap of 5" in shown
    assert shown.count('"alert.take"') == 5  # not on the person's line
    assert shown.count('"alert.snooze"') == 5


def test_snoozed_and_closed_lines_lose_their_buttons() -> None:
    lines = [
        line(1, state=State.SNOOZED, snoozed_by="U0SUPER", snoozed_until=NOW),
        line(2, status="resolved"),
    ]
    message = digest_message(view(lines))
    shown = json.dumps(message.blocks)
    assert ":zzz: Snoozed by <@U0SUPER>" in shown and "Now resolved." in shown
    assert "alert.take" not in shown and "alert.snooze" not in shown


def test_summary_within_limits() -> None:
    summary = view(
        [],
        open=120,
        breached=7,
        warning=3,
        unassigned=2,
        stuck_by_stage={"in_review": 6, HOSTILE: 4},
        stuck_by_owner=[[f"U{n}", n] for n in range(10)],
    )
    message = summary_message(summary)
    assert validate_message(message.text, message.blocks) == []
    assert message.text.startswith("Daily summary: 120 open, 7 overdue, 3 nearly due, 2 unassigned")
