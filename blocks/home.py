"""The App Home tab, one per person: their own disputes, the proposals waiting for their
approval, the disputes nobody owns and, for managers and supervisors, the team; each list paged
so the tab stays within Slack's 100 blocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from blocks.ids import ActionId, BadSubject
from blocks.kit import Block, context, divider, header, plain, section
from blocks.queue import QUEUES, queue_row, shown_range, team_lines
from disputes.models import Dispute
from disputes.queues import QueuePage, Team

PAGE_SIZE = 20  # disputes per list and page: 3 lists and the team fit 100 blocks (see below)
MAX_PAGE = 10_000
MAX_NAMED = 10  # failed refunds named in the attention line
List = Literal["mine", "approvals", "unassigned"]
LISTS: tuple[List, ...] = ("mine", "approvals", "unassigned")
# The most blocks the tab can hold: header, notice, help, two refund lines; per list a divider,
# its title, its rows and a Next button; the team's divider, title and three sections.
MOST_BLOCKS = 5 + len(LISTS) * (PAGE_SIZE + 3) + 5  # 79


class HomePages(BaseModel):
    """Which page of each list a person looks at: the value of the Previous and Next buttons."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mine: int = Field(0, ge=0, le=MAX_PAGE)
    approvals: int = Field(0, ge=0, le=MAX_PAGE)
    unassigned: int = Field(0, ge=0, le=MAX_PAGE)

    def encode(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    @classmethod
    def decode(cls, raw: str | None) -> HomePages:
        try:
            return cls.model_validate_json(raw or "")
        except ValidationError as exc:
            raise BadSubject(raw) from exc

    def of(self, name: List) -> int:
        return int(getattr(self, name))

    def at(self, name: List, page: int) -> HomePages:
        return self.model_copy(update={name: max(min(page, MAX_PAGE), 0)})


@dataclass(frozen=True, slots=True)
class HomeContent:
    """What one person's tab shows, read for them."""

    mine: QueuePage
    approvals: QueuePage
    unassigned: QueuePage
    now: datetime
    pages: HomePages = field(default_factory=HomePages)
    links: Mapping[int, str] = field(default_factory=dict)
    may_take: bool = False  # Take on the disputes nobody owns
    team: Team | None = None  # for managers and supervisors
    failed: tuple[int, list[Dispute]] = (0, [])
    attention: tuple[int, list[Dispute]] = (0, [])
    notice: str | None = None  # the answer to the person's last click here (mrkdwn)

    def page(self, name: List) -> QueuePage:
        found: QueuePage = getattr(self, name)
        return found


def home_view(content: HomeContent) -> dict[str, Any]:
    """The person's tab: after lines naming refunds whose outcome stayed unknown (`attention`)
    and refunds that failed (`failed`), each list with its page of disputes, then the team."""
    blocks: list[Block] = [header("Dispute Desk")]
    if content.notice:
        blocks.append(section(content.notice))
    blocks.append(
        section(
            "Open a dispute with `/dispute open ORDER-ID [reason] [claim]`; "
            "`/dispute queue` lists your queue; `/dispute help` lists every command."
        )
    )
    if content.attention[0]:
        blocks.append(refunds_needing_attention(*content.attention))
    if content.failed[0]:
        blocks.append(failed_refunds(*content.failed))
    for name in LISTS:
        blocks += _list_blocks(content, name)
    if content.team is not None:
        blocks += [divider(), section("*Team*"), *map(section, team_lines(content.team))]
    return {"type": "home", "blocks": blocks}


def _list_blocks(content: HomeContent, name: List) -> list[Block]:
    page = content.page(name)
    title, empty = QUEUES[name]
    heading: dict[str, Any] = {"block_id": f"home.{name}"}
    if page.has_previous:
        back = content.pages.at(name, page.offset // PAGE_SIZE - 1)
        heading["accessory"] = _page_button("‹ Previous", back)
    blocks = [divider(), section(f"*{title}* · {shown_range(page)}", **heading)]
    if not page.items:
        blocks.append(context(f"_{empty if not page.total else 'Nothing on this page.'}_"))
    take = content.may_take and name == "unassigned"
    for n, item in enumerate(page.items[:PAGE_SIZE]):
        url = content.links.get(item.dispute.number)
        row = queue_row(item, url, content.now, take=take, open_link=True)
        blocks.append(row | {"block_id": f"home.{name}.{n}"})
    if page.has_next:
        ahead = content.pages.at(name, page.offset // PAGE_SIZE + 1)
        blocks.append(
            {
                "type": "actions",
                "block_id": f"home.{name}.next",
                "elements": [_page_button("Next ›", ahead)],
            }
        )
    return blocks


def _page_button(text: str, pages: HomePages) -> Block:
    return {
        "type": "button",
        "action_id": ActionId.HOME_PAGE.value,
        "text": plain(text, 75),
        "value": pages.encode(),
    }


def _named(total: int, waiting: list[Dispute]) -> str:
    named = ", ".join(f"D-{d.number}" for d in waiting[:MAX_NAMED])
    more = f" and {total - MAX_NAMED} more" if total > MAX_NAMED else ""
    return named + more


def failed_refunds(total: int, waiting: list[Dispute]) -> dict[str, Any]:
    """Refunds the provider refused: each waits for someone to Retry."""
    noun = "refund" if total == 1 else "refunds"
    return section(
        f":x: *{total} {noun} failed* and wait for a *Retry* in the dispute's thread: "
        f"{_named(total, waiting)}. `/dispute show D-&lt;n&gt;` links to the thread."
    )


def refunds_needing_attention(total: int, waiting: list[Dispute]) -> dict[str, Any]:
    """Refunds whose outcome stayed unknown too long, or that the provider holds oddly."""
    noun, verb = ("refund", "needs") if total == 1 else ("refunds", "need")
    return section(
        f":warning: *{total} {noun} {verb} attention*: the provider has not confirmed them "
        f"(it is still asked in the background): {_named(total, waiting)}. Check each payment "
        "in the provider's dashboard."
    )
