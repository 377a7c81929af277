"""`/dispute insights` and the weekly comment as people read them: every KPI in words, "—" for
no data (never 0), "too few disputes" instead of a rate on a small sample, upstream problems
flagged first; and a message Slack accepts however many groups there are and whatever their
names say."""

from __future__ import annotations

import json
from typing import Any

import pytest

from blocks.insights import hours_text, insights_message, period_name, weekly_comment
from disputes.insight_report import Period
from sandbox.slack.blockkit import validate_message
from tests.support.insights import END, busy_month, empty_month, hostile_month


def shown(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every text a block carries: section texts and fields, context elements, headers."""
    found = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [field["text"] for field in block.get("fields", [])]
        found += [element["text"] for element in block.get("elements", []) if "text" in element]
    return found


def test_a_busy_month_reads_as_a_colleague_would_write_it() -> None:
    message = insights_message(busy_month())
    assert validate_message(message.text, message.blocks) == []
    text = shown(message.blocks)
    assert "Insights: the last 30 days" in text
    assert "120 opened · 98 resolved" in text
    assert "median 20.5 h · mean 31.2 h · p90 2.9 days" in text
    assert "median 8.2 h · mean 12.0 h · p90 30.0 h" in text  # business hours stay hours
    assert "64% (63 of 98)" in text
    assert "82% rated 4 or 5 · 45 of 90 surveys answered (50%)" in text
    assert "12% of the disputes resolved" in text
    assert "1234.00 USD (12 refunds) · 5000 JPY (1 refund)" in text
    assert "First response 12% (5 of 40) · Review —" in text
    assert message.text == "Insights for the last 30 days: 120 disputes opened, 98 resolved"


def test_upstream_problems_come_first_the_least_likely_by_chance_first() -> None:
    text = shown(insights_message(busy_month()).blocks)
    upstream = text.index("Upstream problems to look at")
    mug = text.index("SKU *MUG-01*: 14 disputes, up from 2, beyond normal variation (p < 0.001)")
    ups = text.index("Carrier *UPS*: 20 disputes, up from 8, beyond normal variation (p = 0.010)")
    reasons = text.index("Top reasons")
    assert upstream < mug < ups < reasons
    assert "TEE-02" not in text  # not flagged: not an upstream problem
    # Reasons: the flagged one first, then the most frequent, each against the period before.
    assert text.index(":warning: Wrong item: 12, up from 3") < text.index("Damaged: 30, up from 22")
    assert "Defective: 4, new" in text


def test_effects_show_the_interval_or_too_few() -> None:
    text = shown(insights_message(busy_month()).blocks)
    assert (
        "Photos: accepted 80% (65–90%) of 40 with it, 55% (42–67%) of 60 without · "
        "median 20.0 h to accept, against 35.5 h"
    ) in text
    assert "Condition report: _too few disputes_ (12 offers with it, 40 without)" in text
    assert "R-DAMAGE-1: accepted 80%" in text


def test_workload_is_the_last_point_most_loaded_first() -> None:
    text = shown(insights_message(busy_month()).blocks)
    manager = text.index("<@U0MANAGER1>: 7 open · 2 high priority")
    nobody = text.index("Nobody (unassigned): 2 open · 0 high priority")
    assert manager < nobody
    assert "U0AGENT" not in text  # holds nothing at the last point


def test_no_data_is_a_dash_never_zero() -> None:
    message = insights_message(empty_month())
    assert validate_message(message.text, message.blocks) == []
    fields = {f["text"].split("\n")[0]: f["text"] for f in message.blocks[2]["fields"]}
    assert fields["*First-contact resolution*"] == "*First-contact resolution*\n—"
    assert fields["*Time to resolve*"] == "*Time to resolve*\nmedian — · mean — · p90 —"
    assert fields["*Satisfaction*"].startswith("*Satisfaction*\n— rated 4 or 5")
    assert "(—)" in fields["*Satisfaction*"]
    assert fields["*Overturned*"].startswith("*Overturned*\n—")
    assert fields["*Refunds paid*"] == "*Refunds paid*\nnone"
    text = shown(message.blocks)
    assert "First response —" in text
    assert "0%" not in text and "0.0 h" not in text
    assert "_Nothing rose beyond normal variation._" in text
    assert "_No offer was decided._" in text
    assert "_Nobody holds an open dispute._" in text


def test_hostile_and_numerous_names_stay_within_slacks_limits() -> None:
    message = insights_message(hostile_month())
    assert validate_message(message.text, message.blocks) == []
    assert len(message.blocks) <= 50
    for block in message.blocks:
        assert len(block.get("fields", [])) <= 10
        assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
    assert all(len(text) <= 3000 for text in texts(message.blocks))
    text = shown(message.blocks)
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text
    assert "…and 1190 more" in text  # 1200 flagged groups, 10 named
    assert "• and 292 more" in text  # effects: 8 of 300 named


def test_a_range_is_named_by_its_dates() -> None:
    period = Period.parse("2026-02-01..2026-02-28")
    assert period_name(period) == "2026-02-01 to 2026-02-28"
    assert period_name(Period.parse("7d", now=END)) == "the last 7 days"


@pytest.mark.parametrize(
    ("hours", "text"),
    [(None, "—"), (0.25, "15 min"), (20.54, "20.5 h"), (47.9, "47.9 h"), (72.0, "3.0 days")],
)
def test_hours_read_as_people_say_them(hours: float | None, text: str) -> None:
    assert hours_text(hours) == text


def test_the_weekly_comment_sums_up_the_week() -> None:
    week = busy_month().model_copy(update={"period": Period.parse("7d", now=END)})
    comment = weekly_comment(week)
    assert comment.startswith("*Weekly insights*")
    assert "120 disputes opened, 98 resolved · median time to resolve 20.5 h" in comment
    assert "first-contact resolution 64% · satisfaction 82% (45 answers)" in comment
    assert "Upstream problems to look at: SKU *MUG-01*: 14 disputes, up from 2" in comment
    assert "`/dispute insights 7d`" in comment
    assert "Service levels missed: First response 12% (5 of 40)\n" in comment  # not Review —
    assert validate_message(comment, []) == []
    quiet = weekly_comment(empty_month())
    assert "median time to resolve —" in quiet and "Upstream" not in quiet
    assert "Service levels missed: —" in quiet


def test_the_weekly_comment_of_hostile_names_is_escaped_and_short() -> None:
    comment = weekly_comment(hostile_month())
    assert "<!channel>" not in comment
    assert len(comment) < 4000
