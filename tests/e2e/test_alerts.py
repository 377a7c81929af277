"""Bottleneck alerts through the real app and the Slack emulator: two replicas on one PostgreSQL
database scanning every second send each alert once; Take and Snooze work from the digest;
a dispute that cannot be clocked does not stop the others' alerts; quiet hours hold digests
back while the parent message still shows the clock."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.demo_world import thread_of
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Message, Workspace
from sandbox.waiting import eventually
from tests.conftest import _fresh_postgres_database
from tests.support.app_process import app_process

SUPERVISORS = "C0SUPERVISORS"
# Every dispute is due a first response eight seconds after it opens (time enough to open three
# and break one before any is late); nothing is "high".
SLA = """
timezone: UTC
business_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"}
holidays: []
quiet_hours: %s
warn_at: 0.9
priorities:
  - {name: normal}
targets:
  normal: {business: false, first_response: 8s, in_review: 1h, awaiting_approval: 1h,
           awaiting_customer: 1d, executing: 1h}
"""


def settings(tmp_path: Path, quiet: str = "null") -> dict[str, str]:
    sla = tmp_path / "sla.yml"
    sla.write_text(SLA % quiet)
    return {
        "SLA_FILE": str(sla),
        "ALERT_SCAN_EVERY": "1",
        "ALERT_SUMMARY_AT": "",
        "SUPERVISORS_CHANNEL": "#dispute-supervisors",
    }


def digests(workspace: Workspace, channel: str = SUPERVISORS) -> list[Message]:
    return [m for m in workspace.history(channel) if "Bottlenecks" in m.text]


def lines_about(workspace: Workspace, ref: str, what: str, channel: str = SUPERVISORS) -> int:
    """How many digest lines name `ref` with `what` (each alert is one section block)."""
    count = 0
    for message in digests(workspace, channel):
        for block in message.blocks:
            shown = json.dumps(block)
            if block.get("type") == "section" and names(shown, ref) and what in shown:
                count += 1
    return count


def names(shown: str, ref: str) -> bool:
    """Whether a digest line is about `ref` (shown as a link to its thread, or plain)."""
    return f"|{ref}>*" in shown or f"*{ref}*" in shown


def digest_with(workspace: Workspace, ref: str) -> Message | None:
    for message in digests(workspace):
        if names(json.dumps(message.blocks), ref):
            return message
    return None


def shown(workspace: Workspace, ts: str) -> str:
    message = workspace.message(SUPERVISORS, ts)
    return json.dumps(message.blocks if message else [])


def alert_block(message: Message, ref: str) -> str:
    """The block id of the actions under `ref`'s line."""
    blocks = message.blocks
    for index, block in enumerate(blocks):
        if block.get("type") == "section" and names(json.dumps(block), ref):
            return str(blocks[index + 1]["block_id"])
    raise AssertionError(f"{ref} is not in the digest")


@pytest.mark.postgres
async def test_two_replicas_send_each_alert_once_and_take_and_snooze_work(
    emulator: EmulatorServer, postgres_server: str, tmp_path: Path
) -> None:
    url = await _fresh_postgres_database(postgres_server)
    env = {"DATABASE_URL": url, "ALERT_DM_USERS": "U0SUPER", **settings(tmp_path)}
    workspace = emulator.workspace
    api = emulator.api_url
    with (
        app_process(tmp_path / "a", api, **env) as a,
        app_process(tmp_path / "b", api, **env) as b,
    ):
        async with (
            SlackDriver(a.url, a.secret, workspace, emulator.base_url) as on_a,
            SlackDriver(b.url, b.secret, workspace, emulator.base_url) as on_b,
        ):
            for order, driver in (("ORD-1001", on_a), ("ORD-1002", on_b), ("ORD-1003", on_a)):
                await driver.command(f"open {order} damaged crushed", user="U0MANAGER1")
                # The thread with its cards posted.
                await eventually(lambda order=order: len(thread_of(workspace, order)) >= 3)
            # D-3 cannot be clocked any more (its version moves, so a writer that read it before
            # reads it again): the scan must go on without it.
            engine = create_async_engine(url)
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "UPDATE disputes SET status = 'no_such_status', sla_check_at = now(), "
                        "version = version + 1 "
                        "WHERE number = 3"
                    )
                )
            await engine.dispose()

            for ref in ("D-1", "D-2"):
                await eventually(
                    lambda ref=ref: lines_about(workspace, ref, "First response overdue"), 20
                )
            await asyncio.sleep(4)  # four more scans in each replica
            assert lines_about(workspace, "D-1", "overdue") == 1
            assert lines_about(workspace, "D-2", "overdue") == 1
            assert lines_about(workspace, "D-3", "overdue") == 0
            # The supervisor named in ALERT_DM_USERS gets each digest too, once.
            dm = workspace.dm_id("U0SUPER")
            assert lines_about(workspace, "D-1", "overdue", dm) == 1
            assert lines_about(workspace, "D-2", "overdue", dm) == 1
            assert ":red_circle: overdue" in json.dumps(thread_of(workspace, "ORD-1001")[0].blocks)

            # Take from the digest: D-1 is the manager's, in the thread and in the digest.
            digest = digest_with(workspace, "D-1")
            assert digest is not None
            await on_b.block_action(
                "alert.take",
                user="U0MANAGER1",
                channel=SUPERVISORS,
                message_ts=digest.ts,
                block_id=alert_block(digest, "D-1"),
            )
            await eventually(
                lambda: (
                    "Owner: <@U0MANAGER1>" in json.dumps(thread_of(workspace, "ORD-1001")[0].blocks)
                )
            )
            await eventually(lambda: "Owner: <@U0MANAGER1>" in shown(workspace, digest.ts))

            # Snooze: refused to an agent, done for a manager, shown on the digest.
            digest = digest_with(workspace, "D-2")
            assert digest is not None
            block = alert_block(digest, "D-2")
            seen = len(workspace.ephemerals_for("U0AGENT"))
            await on_a.block_action(
                "alert.snooze",
                user="U0AGENT",
                channel=SUPERVISORS,
                message_ts=digest.ts,
                block_id=block,
            )
            refused = await eventually(lambda: workspace.ephemerals_for("U0AGENT")[seen:])
            assert "You cannot snooze the alerts about D-2" in refused[0].text
            await on_a.block_action(
                "alert.snooze",
                user="U0MANAGER1",
                channel=SUPERVISORS,
                message_ts=digest.ts,
                block_id=block,
            )
            await eventually(
                lambda: ":zzz: Snoozed by <@U0MANAGER1>" in shown(workspace, digest.ts)
            )
            told = workspace.ephemerals_for("U0MANAGER1")
            assert any("Snoozed until" in message.text for message in told)
        assert "could not be brought up to date" in a.output() + b.output()


async def test_quiet_hours_hold_the_digest_back(emulator: EmulatorServer, tmp_path: Path) -> None:
    env = settings(tmp_path, quiet='{start: "00:00", end: "23:59"}')
    workspace = emulator.workspace
    before = len(digests(workspace))
    with app_process(tmp_path / "app", emulator.api_url, **env) as app:
        async with SlackDriver(app.url, app.secret, workspace, emulator.base_url) as slack:
            await slack.command("open ORD-1004 damaged crushed", user="U0MANAGER1")
            await eventually(lambda: thread_of(workspace, "ORD-1004"))
            # The scan still keeps the clock: the parent message turns overdue.
            await eventually(
                lambda: (
                    ":red_circle: overdue" in json.dumps(thread_of(workspace, "ORD-1004")[0].blocks)
                ),
                20,
            )
            await asyncio.sleep(3)
            assert len(digests(workspace)) == before
