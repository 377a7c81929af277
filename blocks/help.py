"""`/dispute help`."""

from __future__ import annotations

from blocks.kit import context, header, section
from blocks.text import Message, escape
from domain.reasons import ALIASES, Reason

SUBCOMMANDS = (
    (
        "/dispute open ORDER-ID [reason] [what the customer says]",
        "Open a dispute for an order: a thread in the disputes channel with the evidence card. "
        "The reason is optional; without it the order's return reason is used.",
    ),
    ("/dispute show D-<number>", "Show a dispute's status and a link to its thread."),
    (
        "/dispute assign D-<number> @person",
        "Give a dispute an owner; they get a direct message. Assigning someone else needs the "
        "assign permission (managers by default).",
    ),
    (
        "/dispute take D-<number>",
        "Become the owner of a dispute nobody owns (or, with the assign permission, any open "
        "one). The thread's Take button does the same.",
    ),
    (
        "/dispute queue [mine|unassigned|stuck|team]",
        "Your open disputes, the nearest breach first (`mine`, the default); those nobody owns, "
        "highest priority first (`unassigned`); those near or past their service level "
        "(`stuck`); the team's stuck disputes and load (`team`, managers and supervisors). "
        "App Home shows your queue and what waits for your approval.",
    ),
    (
        "/dispute insights [7d|30d|90d]",
        "How disputes went over the last 7, 30 (the default) or 90 days: time to resolve, "
        "first-contact resolution, satisfaction, service levels, refunds, upstream problems to "
        "look at and the team's load (managers and supervisors).",
    ),
    (
        "/dispute policy <words or reason>",
        "Search the return policy: the rules that match, with their citation and text.",
    ),
    ("/dispute help", "This help."),
)


def help_message() -> Message:
    reasons = ", ".join(f"`{reason.value.lower().replace('_', '-')}`" for reason in Reason)
    aliases = ", ".join(
        " / ".join(
            f"`{word.lower().replace('_', ' ')}`" for word, to in ALIASES.items() if to is reason
        )
        + f" → {reason.label}"
        for reason in Reason
        if reason in ALIASES.values()
    )
    blocks = [header("Dispute Desk: /dispute")]
    blocks += [section(f"*`{escape(usage)}`*\n{escape(what)}") for usage, what in SUBCOMMANDS]
    blocks.append(
        context(
            f"Reasons: {reasons}. Any spelling with `-`, `_` or spaces works; also {aliases}.",
            "Example: `/dispute open ORD-1001 damaged the box was crushed`",
        )
    )
    text = "Dispute Desk commands: " + "; ".join(escape(usage) for usage, _ in SUBCOMMANDS)
    return Message(text, blocks)
