"""`/dispute assign` and `/dispute take` as typed, and the parent message's owner and Take."""

from __future__ import annotations

import json

import pytest

from blocks.disputes import parent_message
from disputes.lifecycle import Status
from handlers.parsing import AssignCommand, CommandError, TakeCommand, parse_command
from tests.support.disputes import make_dispute


@pytest.mark.parametrize(
    "text", ["assign D-7 <@U0AGENT>", "assign d7 <@U0AGENT|agnes>", "ASSIGN 7  <@U0AGENT>"]
)
def test_assign_reads_the_number_and_the_mention(text: str) -> None:
    assert parse_command(text) == AssignCommand(number=7, user_id="U0AGENT")


def test_take_reads_the_number() -> None:
    assert parse_command("take D-12") == TakeCommand(number=12)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("assign D-7", "To whom?"),
        ("assign D-7 @agnes", "`@agnes` is not a person"),
        ("assign D-7 <#C0DISPUTES>", "is not a person"),
        ("assign <@U0AGENT>", "is not a dispute number"),
        ("take", "Which dispute?"),
    ],
)
def test_a_bad_owner_command_says_how_to_write_it(text: str, said: str) -> None:
    with pytest.raises(CommandError) as refused:
        parse_command(text)
    assert said in str(refused.value) and "Usage:" in str(refused.value)


def test_the_parent_message_shows_the_owner_and_take_while_open() -> None:
    nobody = json.dumps(parent_message(make_dispute()).blocks)
    assert "Owner: nobody" in nobody and '"owner.take"' in nobody
    owned = json.dumps(parent_message(make_dispute(owner_id="U0AGENT")).blocks)
    assert "Owner: <@U0AGENT>" in owned
    closed = json.dumps(parent_message(make_dispute(status=Status.RESOLVED)).blocks)
    assert '"owner.take"' not in closed
