"""Who may move how much: limits per order and per currency, a roles file that reloads, and a
Retry that needs the same authority as the approval — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.refunds.fake import FakeGateway
from disputes.errors import NotAllowed
from storage.db import Database
from tests.support.money import MANAGER, MANAGER2, ROLES, SUPERVISOR, MoneyWorld
from tests.support.orders import order

BIG = "pi_big"
DINAR = "pi_kwd"


def big_order(order_id: str = "ORD-L1") -> object:
    return order(
        order_id=order_id,
        total="1000.00",
        payment={"provider": "stripe", "reference": BIG},
        items=[
            {
                "sku": "LAMP-1",
                "name": "Floor lamp",
                "category": "home",
                "quantity": 1,
                "unit_price": "1000.00",
            }
        ],
    )


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway(paid={BIG: (1000_00, "USD"), DINAR: (1000_000, "KWD")})


@pytest.fixture
def world(db: Database, gateway: FakeGateway, tmp_path: Path) -> MoneyWorld:
    dinars = order(
        order_id="ORD-K1",
        currency="KWD",
        total="1000.000",
        payment={"provider": "stripe", "reference": DINAR},
        items=[
            {
                "sku": "LAMP-1",
                "name": "Floor lamp",
                "category": "home",
                "quantity": 1,
                "unit_price": "1000.000",
            }
        ],
    )
    return MoneyWorld(db, gateway, tmp_path, orders=[big_order(), dinars])  # type: ignore[list-item]


async def one_dispute(
    world: MoneyWorld, proposer: str, approver: str, amount: str = "100.00", order_id="ORD-L1"
) -> int:
    """Open, propose and approve one partial refund on the order, then let the worker run."""
    number = await world.open(order_id, proposer)
    proposal = await world.propose(number, proposer, amount=amount)
    try:
        await world.approve(number, proposal, approver)
    finally:
        await world.drain()
    return number


# 9. Limits hold per order: a sum over the order's disputes, not one approval at a time.


async def test_one_manager_alone_cannot_refund_an_order_bit_by_bit(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    await one_dispute(world, MANAGER, MANAGER)  # 100.00, self-approved: at the threshold
    with pytest.raises(NotAllowed, match="two-person rule") as refused:
        await one_dispute(world, MANAGER, MANAGER)
    assert "100.00 USD you already approved of your own proposals on ORD-L1" in str(refused.value)
    assert gateway.refunded(BIG) == 100_00
    await world.check_books(BIG, paid={BIG: 1000_00})


async def test_an_approvers_limit_counts_what_they_approved_on_the_order_before(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    first = await world.open("ORD-L1", MANAGER)
    proposal = await world.propose(first, MANAGER, amount="150.00")
    await world.approve(first, proposal, MANAGER2)
    await world.drain()
    second = await world.open("ORD-L1", MANAGER)
    proposal = await world.propose(second, MANAGER, amount="60.00")
    with pytest.raises(NotAllowed, match="above your approval limit") as refused:
        await world.approve(second, proposal, MANAGER2)
    assert "150.00 USD you already approved on ORD-L1" in str(refused.value)
    await world.approve(second, proposal, SUPERVISOR)  # a supervisor has no limit
    await world.drain()
    assert gateway.refunded(BIG) == 210_00
    trail = await world.audit(second)
    assert [after["reason"] for action, after in trail if action == "approval.refused"] == [
        str(refused.value)
    ]
    await world.check_books(BIG, paid={BIG: 1000_00})


async def test_six_small_refunds_by_managers_stop_at_their_limits(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    """The report's order: 100.00 at a time in six successive disputes, the two managers
    approving each other's proposals; past 200.00 each, a supervisor must approve."""
    refused = []
    for proposer, approver in [(MANAGER, MANAGER2), (MANAGER2, MANAGER)] * 3:
        number = await world.open("ORD-L1", proposer)
        proposal = await world.propose(number, proposer, amount="100.00")
        try:
            await world.approve(number, proposal, approver)
        except NotAllowed:
            refused.append(approver)
            await world.approve(number, proposal, SUPERVISOR)
        await world.drain()
    assert refused == [MANAGER2, MANAGER]  # each one's third approval
    assert gateway.refunded(BIG) == 600_00
    await world.check_books(BIG, paid={BIG: 1000_00})


# 10. Limits carry a currency.


async def test_a_limit_in_dollars_does_not_approve_dinars(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await world.open("ORD-K1", MANAGER)
    proposal = await world.propose(number, MANAGER, amount="150.000")
    with pytest.raises(NotAllowed, match="no approval limit in KWD"):
        await world.approve(number, proposal, MANAGER2)
    await world.approve(number, proposal, SUPERVISOR)
    await world.drain()
    assert gateway.refunded(DINAR) == 150_000
    await world.check_books(DINAR, paid={DINAR: 1000_000})


# 11. The roles file reloads: a removal takes effect on the next click.


async def test_someone_removed_from_the_roles_file_cannot_approve_at_the_next_click(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    await one_dispute(world, MANAGER, MANAGER2, amount="20.00")
    number = await world.open("ORD-L1", MANAGER)
    proposal = await world.propose(number, MANAGER, amount="20.00")
    world.roles_file.write_text(ROLES.replace("U0MANAGER1, U0MANAGER2", "U0MANAGER1"))
    stat = world.roles_file.stat()
    os.utime(world.roles_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(NotAllowed, match="cannot approve"):
        await world.approve(number, proposal, MANAGER2)
    world.roles_file.write_text("roles: [broken")  # a broken edit keeps the roles in force
    os.utime(world.roles_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    with pytest.raises(NotAllowed, match="cannot approve"):
        await world.approve(number, proposal, MANAGER2)
    await world.approve(number, proposal, MANAGER)  # still a manager under the kept file
    await world.drain()
    assert gateway.refunded(BIG) == 40_00
    await world.check_books(BIG, paid={BIG: 1000_00})


# 12. Retry needs the authority the approval needed.


async def test_retry_is_refused_to_whoever_could_not_have_approved_the_amount(
    world: MoneyWorld, gateway: FakeGateway
) -> None:
    number = await world.open("ORD-L1", MANAGER)
    proposal = await world.propose(number, MANAGER, amount="300.00")
    await world.approve(number, proposal, SUPERVISOR)
    gateway.fail_next(1, "processor unavailable")
    await world.drain()
    assert await world.status(number) == "execution_failed"
    world.later(30)  # the refusal's settling time
    for clicker in (MANAGER, MANAGER2):
        with pytest.raises(NotAllowed, match=r"approval limit|supervisor"):
            await world.retry(number, clicker)
    assert (await world.retry(number, SUPERVISOR)).resent
    await world.drain()
    assert gateway.refunded(BIG) == 300_00
    refusals = [a for a, _ in await world.audit(number) if a == "approval.refused"]
    assert len(refusals) == 2
    await world.check_books(BIG, paid={BIG: 1000_00})
