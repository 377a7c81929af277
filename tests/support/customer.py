"""The customer's side of an app process: the links in the messages it sent (read from its log,
where CUSTOMER_CHANNEL=log writes each message as one line), and answers given on the pages
those links open, posted as a browser posts a form."""

from __future__ import annotations

import re

import httpx

from bot.demo_world import post_form
from sandbox.app_process import AppProcess
from sandbox.waiting import eventually

_LINKS = re.compile(r" links=(\S+)$")


def links_in(output: str, order_id: str, kind: str = "offer") -> list[str]:
    """The first link of every `kind` message about `order_id` in the app's log, oldest first."""
    lines = (
        line
        for line in output.splitlines()
        if "customer message " in line and f"[{kind}]" in line and order_id in line
    )
    return [found.group(1).split(",")[0] for line in lines if (found := _LINKS.search(line))]


def latest_link(output: str, order_id: str, kind: str = "offer") -> str | None:
    """The first link of the latest `kind` message about `order_id` in the app's log."""
    links = links_in(output, order_id, kind)
    return links[-1] if links else None


async def customer_answers(
    app: AppProcess | tuple[AppProcess, ...],
    order_id: str,
    action: str = "accept",
    *,
    within: float = 30,
    **form: str,
) -> httpx.Response:
    """The customer opens the link of the latest offer (or, to rate, closing message) about
    `order_id` and sends the page's form. With several replicas, whichever sent the message
    logged it."""
    kind = "closing" if action == "rate" else "offer"
    apps = app if isinstance(app, tuple) else (app,)

    def found() -> str | None:
        return next((link for a in apps if (link := latest_link(a.output(), order_id, kind))), None)

    link = await eventually(found, within)
    return await post_form(link, action, **form)


async def customer_accepts(
    app: AppProcess | tuple[AppProcess, ...], order_id: str, *, within: float = 30
) -> None:
    answered = await customer_answers(app, order_id, "accept", within=within)
    assert answered.status_code == 200, answered.text
