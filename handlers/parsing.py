"""Parsing the text of `/dispute` into a command, with usage-bearing errors."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from disputes.insight_report import PERIODS
from domain.reasons import Reason, split_reason
from domain.text import clean_text

MAX_CLAIM_CHARS = 2000
ORDER_ID = re.compile(r"#?[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,63}")
DISPUTE_REF = re.compile(r"(?:D-?)?(\d{1,9})", re.IGNORECASE)
# A mention as Slack writes it in command text: <@U123> or <@U123|name>.
MENTION = re.compile(r"<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>")

USAGE = {
    "open": "`/dispute open ORDER-ID [reason] [what the customer says]`",
    "show": "`/dispute show D-<number>`",
    "assign": "`/dispute assign D-<number> @person`",
    "take": "`/dispute take D-<number>`",
    "queue": "`/dispute queue [mine|unassigned|stuck|team]`",
    "policy": "`/dispute policy <words or reason>`",
    "insights": "`/dispute insights [7d|30d|90d]`",
    "help": "`/dispute help`",
}
MAX_QUERY_CHARS = 200
QUEUE_VIEWS = ("mine", "unassigned", "stuck", "team")
INSIGHTS_PERIOD = "30d"  # when `/dispute insights` names none


class CommandError(ValueError):
    """Text that is not a command; the message says what was wrong and how to write it."""


@dataclass(frozen=True, slots=True)
class HelpCommand:
    pass


@dataclass(frozen=True, slots=True)
class OpenCommand:
    order_id: str
    reason: Reason | None
    claim: str


@dataclass(frozen=True, slots=True)
class ShowCommand:
    number: int


@dataclass(frozen=True, slots=True)
class PolicyCommand:
    words: str
    reason: Reason | None


@dataclass(frozen=True, slots=True)
class AssignCommand:
    number: int
    user_id: str


@dataclass(frozen=True, slots=True)
class TakeCommand:
    number: int


@dataclass(frozen=True, slots=True)
class QueueCommand:
    view: str  # one of QUEUE_VIEWS


@dataclass(frozen=True, slots=True)
class InsightsCommand:
    period: str  # one of PERIODS: the days up to now


Command = (
    HelpCommand
    | OpenCommand
    | ShowCommand
    | PolicyCommand
    | AssignCommand
    | TakeCommand
    | QueueCommand
    | InsightsCommand
)


def parse_command(text: str) -> Command:
    # Slack escapes &, < and > in command text; read what the person typed.
    text = clean_text(html.unescape(text or "")).strip()
    if not text:
        return HelpCommand()
    head, *tail = text.split(maxsplit=1)
    rest = tail[0] if tail else ""
    sub = unicodedata.normalize("NFKC", head).lower()
    if sub == "help":
        return HelpCommand()
    if sub == "open":
        return _parse_open(rest)
    if sub == "show":
        return _parse_show(rest)
    if sub == "policy":
        return _parse_policy(rest)
    if sub == "assign":
        return _parse_assign(rest)
    if sub == "take":
        return TakeCommand(number=_dispute_number(rest, "take"))
    if sub == "queue":
        return _parse_queue(rest)
    if sub == "insights":
        return _parse_insights(rest)
    raise CommandError(
        f"`{_clip(head)}` is not a `/dispute` command. Try one of: "
        + ", ".join(USAGE.values())
        + "."
    )


def _parse_open(rest: str) -> OpenCommand:
    words = rest.split(maxsplit=1)
    if not words:
        raise CommandError(f"Which order? Usage: {USAGE['open']}")
    order_id = unicodedata.normalize("NFKC", words[0])
    if not ORDER_ID.fullmatch(order_id):
        raise CommandError(
            f"`{_clip(words[0])}` is not an order id: use the letters, digits and dashes of the "
            f"order system's id, e.g. `ORD-1001`. Usage: {USAGE['open']}"
        )
    reason, claim = split_reason(words[1] if len(words) > 1 else "")
    if len(claim) > MAX_CLAIM_CHARS:
        raise CommandError(
            f"The claim is {len(claim)} characters long; keep it under {MAX_CLAIM_CHARS} and "
            "add the rest to the thread once the dispute is open."
        )
    return OpenCommand(order_id=order_id, reason=reason, claim=claim)


def _parse_show(rest: str) -> ShowCommand:
    return ShowCommand(number=_dispute_number(rest, "show"))


def _dispute_number(text: str, command: str) -> int:
    ref = unicodedata.normalize("NFKC", text.strip())
    match = DISPUTE_REF.fullmatch(ref)
    if not ref or match is None or int(match.group(1)) == 0:
        shown = f"`{_clip(ref)}` is not a dispute number. " if ref else "Which dispute? "
        raise CommandError(f"{shown}Usage: {USAGE[command]}")
    return int(match.group(1))


def _parse_assign(rest: str) -> AssignCommand:
    words = rest.split(maxsplit=1)
    number = _dispute_number(words[0] if words else "", "assign")
    who = words[1].strip() if len(words) > 1 else ""
    mention = MENTION.fullmatch(who)
    if mention is None:
        shown = f"`{_clip(who)}` is not a person. " if who else "To whom? "
        raise CommandError(f"{shown}Mention them with @. Usage: {USAGE['assign']}")
    return AssignCommand(number=number, user_id=mention.group(1))


def _parse_queue(rest: str) -> QueueCommand:
    view = unicodedata.normalize("NFKC", rest.strip()).lower() or "mine"
    if view not in QUEUE_VIEWS:
        valid = ", ".join(f"`{name}`" for name in QUEUE_VIEWS)
        raise CommandError(
            f"`{_clip(rest.strip())}` is not a queue: use one of {valid} (`mine` when left out). "
            f"Usage: {USAGE['queue']}"
        )
    return QueueCommand(view=view)


def _parse_insights(rest: str) -> InsightsCommand:
    period = unicodedata.normalize("NFKC", rest.strip()).lower() or INSIGHTS_PERIOD
    if period not in PERIODS:
        valid = ", ".join(f"`{name}`" for name in PERIODS)
        raise CommandError(
            f"`{_clip(rest.strip())}` is not a period: use {valid} (the last 7, 30 or 90 days; "
            f"`{INSIGHTS_PERIOD}` when left out). Usage: {USAGE['insights']}"
        )
    return InsightsCommand(period=period)


def _parse_policy(rest: str) -> PolicyCommand:
    words = " ".join(rest.split())
    if not words:
        raise CommandError(f"What should I look for? Usage: {USAGE['policy']}, e.g. `damaged`.")
    if len(words) > MAX_QUERY_CHARS:
        raise CommandError(f"Keep the search under {MAX_QUERY_CHARS} characters.")
    reason, remainder = split_reason(words)
    return PolicyCommand(words=words, reason=reason if not remainder else None)


def _clip(text: str, limit: int = 40) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"
