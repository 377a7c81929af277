"""The demo world's pieces: data folder, paid orders, roles, the closed disputes of its history,
disputes seeded through Slack."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from sqlalchemy import select, text

from bot.demo_history_rows import seed_history as write_history
from bot.errors import StartupError
from bot.runtime import load_current_pack
from bot.settings import Settings
from bot.sla_loading import load_sla
from connectors.orders.factory import default_fixtures_path
from disputes.sla_clock import watch
from domain.money import to_minor
from sandbox.slack.driver import SlackDriver
from sandbox.slack.records import Message, View
from sandbox.slack.workspace import Workspace
from sandbox.waiting import eventually
from sandbox.world.localstripe_runner import auth_headers, create_payment, create_refund
from sandbox.world.mailbox import Mailbox
from storage.db import Database
from storage.migrate import migrate
from storage.tables import DisputeRow

T = TypeVar("T")

CHANNEL = "C0DISPUTES"
DB_NAME = "dispute-desk.db"
ORDERS = "orders"
ROLES_NAME = "roles.yml"
STRIPE_STORE = "localstripe.pickle"
# Held (flock) by the demo using the folder; kept, never removed, so two runs lock one file.
LOCK_NAME = "demo.lock"
# Only what the demo itself writes is ever removed, whatever folder --data names.
_OWNED = (
    DB_NAME,
    f"{DB_NAME}-wal",
    f"{DB_NAME}-shm",
    f"{DB_NAME}-journal",
    ORDERS,
    ROLES_NAME,
    STRIPE_STORE,
    f"{STRIPE_STORE}.tmp",
)

ROLES = """\
# Written by `dispute-desk demo` for the sandbox workspace's users.
roles:
  supervisor: {users: [U0SUPER], groups: [], approval_limit: null}
  manager: {users: [U0MANAGER1, U0MANAGER2], groups: [S0MANAGERS], approval_limit: "200.00"}
  agent: {users: [U0AGENT], groups: [], approval_limit: "0"}
two_person_rule_above: "100.00"
"""

PAYMENT_CONCURRENCY = 8
# The order system says this order was refunded, but the refund never left: the provider holds
# none (a "refund not received" dispute). Every other refund the order system made is at the
# provider too, as in a real shop.
REFUND_NEVER_SENT = frozenset({"ORD-1017"})


@dataclass(frozen=True)
class DemoSecrets:
    """The demo's Slack signing secret and its customer-reply (inbound) secret."""

    signing: str = field(repr=False)
    inbound: str = field(repr=False)


def new_secrets() -> DemoSecrets:
    """Two independent random secrets: one leaking never forges requests of the other kind."""
    return DemoSecrets(signing=secrets.token_hex(32), inbound=secrets.token_hex(32))


def default_data_folder() -> Path:
    """A stable per-user folder, so `--keep` finds the previous run (XDG cache, not the cwd)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "dispute-desk" / "demo"


def data_folder(data: str | None) -> Path:
    """The folder `--data` names, or the default one."""
    return Path(data).expanduser().resolve() if data else default_data_folder()


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the folder for this demo: a second demo on it fails with a StartupError before
    touching anything. An OS lock, so it goes with the process however that ends (SIGKILL)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StartupError(
                f"another demo is using {folder} (starting would wipe its data); stop it, "
                "or give this one its own folder with --data DIR"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock


def prepare_folder(folder: Path, *, keep: bool) -> Path:
    """Empty what an earlier demo left in `folder`, unless `keep`."""
    folder.mkdir(parents=True, exist_ok=True)
    if not keep:
        for name in _OWNED:
            path = folder / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    return folder


def write_roles(folder: Path) -> Path:
    roles = folder / ROLES_NAME
    roles.write_text(ROLES)
    return roles


async def pay_orders(folder: Path, stripe_url: str) -> Path:
    """Write the demo orders into `folder/orders`, each paid by a payment intent in localstripe.
    Orders already there whose payment localstripe knows (a kept run) are left as they are."""
    target = folder / ORDERS
    target.mkdir(exist_ok=True)
    gate = asyncio.Semaphore(PAYMENT_CONCURRENCY)
    async with httpx.AsyncClient(headers=auth_headers(), timeout=15) as client:

        async def pay(source: Path) -> None:
            async with gate:
                kept = target / source.name
                reference = _reference(kept)
                if reference and await _known(client, stripe_url, reference):
                    return
                data = _read_json(source)
                currency = data["currency"]
                reference = await create_payment(
                    stripe_url, to_minor(data["total"], currency), currency, client=client
                )
                data["payment"] = {"provider": "stripe", "reference": reference}
                refunded = _order_system_refund(data)
                if refunded and data["order_id"] not in REFUND_NEVER_SENT:
                    await create_refund(stripe_url, reference, refunded, client=client)
                _write_json(kept, data)

        await asyncio.gather(*(pay(p) for p in sorted(default_fixtures_path().glob("*.json"))))
    return target


def _order_system_refund(order: dict[str, Any]) -> int:
    """Minor units the order's return decision says were refunded (0 for none)."""
    decision = (order.get("return_request") or {}).get("decision") or {}
    if decision.get("outcome") not in ("refunded", "partial_refund") or not decision.get("amount"):
        return 0
    return to_minor(decision["amount"], order["currency"])


def _read_json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2))


def _reference(order: Path) -> str | None:
    """The payment reference of an order kept from a previous run, if any."""
    try:
        return str(_read_json(order)["payment"]["reference"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


async def _known(client: httpx.AsyncClient, stripe_url: str, reference: str) -> bool:
    answer = await client.get(f"{stripe_url}/v1/payment_intents/{reference}")
    return answer.status_code == 200


async def refunds_in(stripe_url: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(headers=auth_headers(), timeout=10) as client:
        answer = await client.get(f"{stripe_url}/v1/refunds", params={"limit": 100})
        answer.raise_for_status()
        return list(answer.json()["data"])


async def seed_history(settings: Settings) -> int:
    """The demo's history (`bot.demo_history`) written into its database, unless the database
    already holds disputes (a kept run); how many it wrote. Written with the app's write hook
    on, as the app's own writes are."""
    sla = load_sla(settings.sla_file)
    pack = load_current_pack(settings.policy_pack).refresh()
    db = Database(settings.database_url)
    try:
        await migrate(db)
        watch(db, sla)
        return await write_history(db, sla, pack, datetime.now(UTC))
    finally:
        await db.dispose()


# -- disputes in their states, through the real Slack path -------------------------------------


@dataclass(frozen=True)
class Seed:
    order_id: str
    user: str
    text: str
    # What the demo leaves it at: new, evidence_ready, proposed, in_review, awaiting_customer,
    # or resolved (the customer accepted the offer by mail, was refunded and rated us).
    state: str


SEEDS = (
    Seed("ORD-1001", "U0MANAGER1", "damaged the box was crushed", "resolved"),
    Seed("ORD-1003", "U0MANAGER2", "not as described the fibre differs", "proposed"),
    Seed("ORD-1005", "U0MANAGER1", "size too small", "in_review"),
    Seed(
        "ORD-1017",
        "U0MANAGER2",
        "refund not received three weeks and still nothing in PayPal",
        "evidence_ready",
    ),
    Seed("ORD-1009", "U0AGENT", "never delivered, tracking stopped", "new"),
    Seed("ORD-1006", "U0MANAGER1", "size too large both pairs", "awaiting_customer"),
)


# Who owns which seeded dispute (ORD-1017 stays unowned), and how long ago the seeded disputes
# that are late entered the stage they are in: the supervisors' digest names them.
OWNERS = {"ORD-1005": "U0MANAGER1", "ORD-1003": "U0MANAGER2", "ORD-1009": "U0AGENT"}
LATE = {"ORD-1005": timedelta(days=5), "ORD-1003": timedelta(days=3), "ORD-1017": timedelta(days=3)}
_REF = re.compile(r"\b(D-\d+) · ")


def ref_of(ws: Workspace, order_id: str) -> str:
    """The dispute's reference ("D-3"), from its parent message."""
    found = _REF.search(thread_of(ws, order_id)[0].text)
    assert found, order_id
    return found.group(1)


async def give_owners(slack: SlackDriver, ws: Workspace, seeded: list[Seed]) -> None:
    """A supervisor assigns the seeded disputes that have an owner in OWNERS."""
    for item in seeded:
        owner = OWNERS.get(item.order_id)
        if owner is None:
            continue
        await slack.command(f"assign {ref_of(ws, item.order_id)} <@{owner}>", user="U0SUPER")
        await eventually(partial(_owned_by, ws, item.order_id, owner))


def _owned_by(ws: Workspace, order_id: str, owner: str) -> bool:
    return f"Owner: <@{owner}>" in json.dumps(thread_of(ws, order_id)[0].blocks)


async def make_late(db: Database, seeded: list[Seed]) -> None:
    """Move the stage clocks of the seeded disputes in LATE back by their delay, as if they had
    waited that long: opened, and their current stage entered, that much earlier."""
    orders = [item.order_id for item in seeded if item.order_id in LATE]
    async with db.transaction() as session:
        rows = await session.scalars(
            select(DisputeRow).where(
                DisputeRow.order_id.in_(orders), DisputeRow.active_order_key.is_not(None)
            )
        )
        for row in rows:
            delay = LATE[row.order_id]
            row.created_at -= delay
            row.updated_at -= delay
            row.state_times = {
                status: (datetime.fromisoformat(at) - delay).isoformat()
                for status, at in row.state_times.items()
            }
            if row.sla_entered_at is not None:
                row.sla_entered_at -= delay


async def opened_orders(db: Database) -> set[str]:
    async with db.reading() as session:
        rows = await session.execute(text("SELECT order_id FROM disputes"))
        return {str(order_id) for (order_id,) in rows}


def thread_of(ws: Workspace, order_id: str) -> list[Message]:
    for parent in ws.history(CHANNEL):
        if f"· {order_id} ·" in parent.text:
            return list(ws.thread(CHANNEL, parent.ts))
    return []


def in_review(ws: Workspace, order_id: str) -> bool:
    return thread_of(ws, order_id)[0].text.endswith("In review")


def find_reply(ws: Workspace, order_id: str, needle: str) -> Message | None:
    return next((m for m in thread_of(ws, order_id) if needle in json.dumps(m.blocks)), None)


async def click_for_modal(
    slack: SlackDriver, ws: Workspace, user: str, action: str, message: Message
) -> View:
    """Click a button that opens a modal; the modal it opened."""
    before = ws.top_view(user)
    await slack.block_action(action, user=user, message_ts=message.ts)

    def new_view() -> View | None:
        view = ws.top_view(user)
        return view if view is not before else None

    return await eventually(new_view)


async def request_changes(
    slack: SlackDriver, ws: Workspace, order_id: str, user: str, reason: str
) -> None:
    """Send the dispute's open proposal back, with the reason asked for."""
    card = await eventually(partial(find_reply, ws, order_id, "proposal.changes"))
    opened = await click_for_modal(slack, ws, user, "proposal.changes", card)
    reply = await slack.view_submission(
        {"reason": {"reason": reason}}, user=user, view_id=opened.id
    )
    if reply.status_code != 200 or reply.content not in (b"", b"null"):
        raise RuntimeError(f"the request for changes on {order_id} was refused: {reply.text}")


async def propose(
    slack: SlackDriver, ws: Workspace, order_id: str, user: str, **values: str
) -> None:
    card = await eventually(lambda: find_reply(ws, order_id, "review.start"))
    opened = await click_for_modal(slack, ws, user, "review.start", card)
    fields = {name: {name: value} for name, value in values.items()}
    reply = await slack.view_submission(fields, user=user, view_id=opened.id)
    if reply.status_code != 200 or reply.content not in (b"", b"null"):
        raise RuntimeError(f"the demo proposal for {order_id} was refused: {reply.text}")


def offer_link(mailbox: Mailbox, order_id: str, kind: str) -> str | None:
    """The link (`/c/offer…` or `/c/csat…`) in the latest mail about `order_id`."""
    for mail in reversed(mailbox.messages):
        if order_id in mail.body:
            match = re.search(rf"https?://\S+/c/{kind}\.\S+", mail.body)
            if match:
                return match.group(0).rstrip(".,)")
    return None


async def post_form(link: str, action: str, **form: str) -> httpx.Response:
    """A customer page's form sent as a browser sends it (form-encoded, even when empty)."""
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(
            f"{link}/{action}",
            content=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


async def customer_answers(mailbox: Mailbox, order_id: str, action: str, **form: str) -> None:
    """The customer opens the link in their mail and answers on the page, as in a browser."""
    kind = "csat" if action == "rate" else "offer"
    link = await eventually(partial(offer_link, mailbox, order_id, kind), 30)
    answered = await post_form(link, action, **form)
    if answered.status_code != 200:
        raise RuntimeError(f"the customer's {action} on {order_id} was refused: {answered.text}")


async def offer_approved(
    slack: SlackDriver, ws: Workspace, item: Seed, amount: str, note: str
) -> None:
    """A partial refund proposed and approved: the offer goes to the customer by mail."""
    await propose(
        slack, ws, item.order_id, item.user, kind="partial_refund", amount=amount, note=note
    )
    card = await eventually(partial(find_reply, ws, item.order_id, "proposal.approve"))
    await slack.block_action("proposal.approve", user="U0SUPER", message_ts=card.ts)


async def seed(
    slack: SlackDriver, ws: Workspace, skip: set[str], mailbox: Mailbox | None = None
) -> list[Seed]:
    """Open the seeds not in `skip` and move each to its state; the ones it opened. Without
    the customer's mailbox, the seeds that need the customer's answer stop at the offer."""
    todo = [s for s in SEEDS if s.order_id not in skip]
    for item in todo:
        await slack.command(f"open {item.order_id} {item.text}", user=item.user)
        await eventually(partial(find_reply, ws, item.order_id, "Evidence"))
    for item in todo:
        if item.state == "resolved":
            await offer_approved(slack, ws, item, "40.00", "crushed corner: goodwill refund")
            if mailbox is not None:
                await customer_answers(mailbox, item.order_id, "accept")
                await eventually(partial(find_reply, ws, item.order_id, "Refunded *"), 30)
                await customer_answers(
                    mailbox, item.order_id, "rate", rating="5", comment="Quick and fair, thanks!"
                )
        elif item.state == "awaiting_customer":
            await offer_approved(slack, ws, item, "30.00", "one pair worn outdoors: 25% off")
        elif item.state == "proposed":
            await propose(
                slack,
                ws,
                item.order_id,
                item.user,
                kind="partial_refund",
                amount="30.00",
                note="goodwill",
            )
            await eventually(partial(find_reply, ws, item.order_id, "proposal.approve"))
        elif item.state == "in_review":
            await propose(slack, ws, item.order_id, item.user, kind="store_credit")
            await request_changes(
                slack, ws, item.order_id, "U0SUPER", "a partial refund fits better: see 4.2"
            )
            await eventually(partial(in_review, ws, item.order_id))
    return todo
