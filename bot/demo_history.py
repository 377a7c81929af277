"""The demo's history: about 240 disputes the team closed over the last 90 days, so that
insights (`/dispute insights 30d`, the weekly chart) have something to show from the start.

Each one is made with the app's own pieces: an order (a demo fixture with its own id, customer,
payment and dates), the evidence the default sources file from it, the decision the policy
pack makes on it (its citations are the dispute's rule tags), then a course a team would have
taken: a proposal, often an offer the customer accepts, declines or lets expire (photos on file
and some cited rules make acceptance likelier and quicker, others less), sometimes a second
offer, refunds, a closing survey and its rating; a few disputes are reopened, a few orders come
back within two weeks. In the last 30 days one pair of headphones (EL-HP-NC700-BLK) comes back
faulty far more often and one carrier (OnTrac) damages parcels: the upstream problems insights
should flag. `bot.demo_history_rows` writes it all as the app would have stored it. The same
seed gives the same history, placed relative to the moment the demo starts.
"""

from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from connectors.orders.evidence_sources import default_evidence_sources
from connectors.orders.factory import default_fixtures_path
from disputes.audit import Actor
from disputes.intake import disputed_amount_minor
from disputes.lifecycle import Status
from domain.evidence import EvidenceDraft, EvidenceKind
from domain.orders import Order
from domain.reasons import Reason
from domain.resolutions import MONEY_KINDS, Resolution
from policies.engine import Decision, evaluate
from policies.facts import facts_from_order
from policies.loader import LoadedPack

SEED = 20_261_118
COUNT = 250  # disputes, follow-ups on an earlier one's order included
DAYS = 90
SURGE_DAYS = 30
HOT_ORDER = "ORD-1002"  # faulty headphones: the returned SKU that rises
HOT_CARRIER = "OnTrac"  # damaged parcels: the carrier that rises
HOT_SHARE, CARRIER_SHARE, CARRIER_BEFORE = 0.22, 0.22, 0.01
DAMAGED_ORDERS = ("ORD-1001", "ORD-1010", "ORD-1023")
LIVE_ORDERS = frozenset({"ORD-1017"})  # the live seeds' refund-not-received case stays unique
OWNERS = (("U0MANAGER1", 40), ("U0MANAGER2", 35), ("U0AGENT", 25))
MANAGERS = ("U0MANAGER1", "U0MANAGER2")
SUPERVISOR = "U0SUPER"
WITHDRAWN_SHARE, REOPEN_SHARE, FOLLOW_UPS = 0.06, 0.025, 3
AGREEMENT_SHARE = 0.85  # a manager puts an option to the customer when the pack allows one
OFFER_DAYS = 14  # OFFER_EXPIRES_DAYS as the demo runs
TRIES, MARGIN = 5, timedelta(minutes=10)  # every dispute closed this long before the demo starts
NAMES = (
    "Avery Brooks", "Jordan Lee", "Priya Nair", "Lucas Martin", "Sofia Rossi", "Ethan Clarke",
    "Hana Sato", "Mateo Garcia", "Chloe Dubois", "Noah Fischer", "Amara Okoye", "Leo Novak",
    "Isla Murray", "Omar Haddad", "Freya Jensen", "Diego Alvarez", "Mila Kowalski", "Arjun Mehta",
    "Grace Kim", "Felix Wagner", "Zara Ahmed", "Theo Laurent", "Nora Lindqvist", "Kai Tanaka",
)  # fmt: skip
# How the customer answers an offer: log-odds of accepting, moved by what is on file and cited.
ACCEPT_LOG_ODDS, SECOND_OFFER = -0.3, 0.9
PHOTOS_EFFECT = 1.4
RULE_EFFECT = {
    "wrong-item": 1.0,
    "damage-reported-48h": 0.6,
    "defective-in-window": 0.5,
    "condition-grade-c-d": -1.0,
    "tags-and-packaging": -0.7,
    "shipping-not-refundable": -0.4,
    "repeat-returns-review": -0.5,
    "electronics-restocking-fee": -0.5,
    "after-window-store-credit": -0.6,
}
DECLINES = ("Not enough for what I paid.", "I want my money back, not credit.", "")


@dataclass
class Step:
    """A status entered: when, by whom, and the proposal it concerns (by index)."""

    status: Status
    at: datetime
    actor: Actor
    proposal: int | None = None


@dataclass
class Proposed:
    """A proposal and what became of it: approved, put to the customer and answered."""

    kind: Resolution
    amount_minor: int | None
    by: str
    at: datetime
    approver: str | None = None
    approved_at: datetime | None = None
    offered_at: datetime | None = None
    answer: str | None = None  # accepted, declined, expired
    answered_at: datetime | None = None
    decline_reason: str | None = None
    executed_at: datetime | None = None  # the refund sent
    settled_at: datetime | None = None  # the refund succeeded

    @property
    def status(self) -> str:
        if self.answer in ("declined", "expired"):
            return self.answer
        return "approved" if self.approved_at else "open"


@dataclass
class Planned:
    """One dispute of the history, before its rows are written."""

    order: Order
    reason: Reason
    created: datetime
    owner: str
    evidence: list[EvidenceDraft]
    decision: Decision
    disputed_minor: int
    steps: list[Step] = field(default_factory=list)
    proposals: list[Proposed] = field(default_factory=list)
    added: list[tuple[EvidenceDraft, Actor]] = field(default_factory=list)
    rating: tuple[datetime, int, str | None] | None = None  # answered, rating, comment

    @property
    def status(self) -> Status:
        return self.steps[-1].status if self.steps else Status.NEW

    @property
    def closed_at(self) -> datetime:
        return self.steps[-1].at

    def resolved_at(self) -> datetime | None:
        return next((s.at for s in self.steps if s.status is Status.RESOLVED), None)


def templates() -> list[dict[str, Any]]:
    """The demo orders a history dispute may be about: those with a return and a carrier."""
    found = []
    for path in sorted(Path(default_fixtures_path()).glob("*.json")):
        data = json.loads(path.read_text())
        if data["order_id"] in LIVE_ORDERS or not data.get("shipments"):
            continue
        if (data.get("return_request") or {}).get("reason"):
            found.append(data)
    return found


async def plan_history(pack: LoadedPack, now: datetime, zone: Any) -> list[Planned]:
    """The history, oldest first, every dispute closed before `now`."""
    rng = random.Random(SEED)
    orders = templates()
    by_id = {o["order_id"]: o for o in orders}
    moments = sorted(_opening(rng, now, zone) for _ in range(COUNT - FOLLOW_UPS))
    planned = []
    for n, opened in enumerate(moments):
        template, carrier = _template(rng, orders, by_id, now - opened < timedelta(SURGE_DAYS))
        created = opened
        for _ in range(TRIES):  # a course that would end after `now` began earlier
            wire = _order_wire(rng, template, f"ORD-{5001 + n}", created, carrier)
            found = await _planned(rng, pack, Order.from_wire(wire), created, now)
            if found.closed_at < now - MARGIN:
                planned.append(found)
                break
            created -= found.closed_at - now + timedelta(hours=12)
    planned += await _follow_ups(rng, pack, planned, now)
    return sorted(planned, key=lambda p: p.created)


def _opening(rng: random.Random, now: datetime, zone: Any) -> datetime:
    """A moment in the last DAYS, mostly on a weekday between 08:00 and 19:00 in `zone`."""
    day = (now - timedelta(days=rng.uniform(1, DAYS))).astimezone(zone).date()
    if day.weekday() >= 5 and rng.random() < 0.75:
        day -= timedelta(days=day.weekday() - 4)
    wall = time(rng.randint(8, 18), rng.randrange(60), rng.randrange(60))
    return datetime.combine(day, wall, zone).astimezone(now.tzinfo)


def _template(
    rng: random.Random, orders: list[dict[str, Any]], by_id: dict[str, Any], surge: bool
) -> tuple[dict[str, Any], str | None]:
    """The order a dispute is about, and the carrier it went with when not the template's."""
    roll = rng.random()
    if surge and roll < HOT_SHARE:
        return by_id[HOT_ORDER], None
    if surge and roll < HOT_SHARE + CARRIER_SHARE:
        return by_id[rng.choice(DAMAGED_ORDERS)], HOT_CARRIER
    template = rng.choice([o for o in orders if o["order_id"] != HOT_ORDER])
    return template, HOT_CARRIER if rng.random() < CARRIER_BEFORE else None


def _order_wire(
    rng: random.Random, template: dict[str, Any], order_id: str, created: datetime, carrier: Any
) -> dict[str, Any]:
    """The template as another customer's order, its events moved to end shortly before the
    dispute is opened; some returns are not inspected yet, some inspections took no photos."""
    wire = copy.deepcopy(template)
    latest = max(_moments(wire))
    shift = created - timedelta(hours=rng.uniform(2, 72)) - latest
    _shift(wire, shift)
    name = rng.choice(NAMES)
    index = NAMES.index(name)
    wire["order_id"] = order_id
    wire["customer"] = {
        **wire["customer"],
        "id": f"C-{700 + index}",
        "name": name,
        "email": f"{name.lower().replace(' ', '.')}@example.com",
        "tier": "vip" if index % 8 == 0 else "standard",
    }
    wire["payment"] = {"provider": "stripe", "reference": f"pi_demo_{order_id.lower()}"}
    if carrier:
        for shipment in wire["shipments"]:
            shipment["carrier"] = carrier
    report, roll = wire.get("condition_report"), rng.random()
    if report and roll < 0.2:
        del wire["condition_report"]
    elif report and report.get("photos") and roll < 0.45:
        report["photos"] = []
    return wire


def _moments(node: Any) -> list[datetime]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and (key == "at" or key.endswith("_at")):
                found.append(datetime.fromisoformat(value.replace("Z", "+00:00")))
            else:
                found += _moments(value)
    elif isinstance(node, list):
        for value in node:
            found += _moments(value)
    return found


def _shift(node: Any, by: timedelta) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        if isinstance(value, dict | list):
            _shift(value, by)
        elif (
            isinstance(value, str) and isinstance(key, str) and (key == "at" or key.endswith("_at"))
        ):
            moved = datetime.fromisoformat(value.replace("Z", "+00:00")) + by
            node[key] = moved.replace(microsecond=0).isoformat()


async def _planned(
    rng: random.Random, pack: LoadedPack, order: Order, created: datetime, now: datetime
) -> Planned:
    reason = order.return_request.reason if order.return_request else Reason.OTHER
    evidence: list[EvidenceDraft] = []
    for source in default_evidence_sources(clock=lambda: created):
        evidence += await source.collect(order)
    disputed = disputed_amount_minor(order, None, reason)
    facts = facts_from_order(
        order,
        reason=reason,
        claim="",
        disputed_amount_minor=disputed,
        evidence_present={draft.kind for draft in evidence},
        as_of=created,
    )
    # Without the trace (a rule-by-rule record): half of the history's bytes and of its start-up;
    # a thread posted for the dispute later decides again, with it.
    decision = evaluate(pack, facts, as_of=created, trace=False)
    owner = rng.choices([o for o, _ in OWNERS], [w for _, w in OWNERS])[0]
    planned = Planned(order, reason, created, owner, evidence, decision, disputed)
    _Course(rng, pack, planned, now).run()
    return planned


async def _follow_ups(
    rng: random.Random, pack: LoadedPack, planned: list[Planned], now: datetime
) -> list[Planned]:
    """New disputes on the orders of a few resolved ones, within two weeks of their close."""
    resolved = [
        p for p in planned if p.status is Status.RESOLVED and now - p.closed_at > timedelta(40)
    ]
    found = []
    for earlier in rng.sample(resolved, FOLLOW_UPS):
        for _ in range(TRIES):
            created = (earlier.closed_at + timedelta(days=rng.uniform(2, 10))).replace(
                microsecond=0
            )
            later = await _planned(rng, pack, earlier.order, created, now)
            if later.closed_at < now - MARGIN:
                found.append(later)
                break
    return found


class _Course:
    """What the team and the customer did with one dispute, step by step."""

    def __init__(self, rng: random.Random, pack: LoadedPack, planned: Planned, now: datetime):
        self.rng, self.pack, self.p, self.now = rng, pack, planned, now
        self.at = planned.created
        kinds = {d.kind for d in planned.evidence}
        self.photos = EvidenceKind.PROOF_OF_DAMAGE in kinds
        self.rules = {rule.id for rule in planned.decision.matched}

    def later(self, low: float, high: float) -> datetime:
        """A moment `low`–`high` seconds on (log-uniform), in whole seconds."""
        seconds = math.exp(self.rng.uniform(math.log(low), math.log(high)))
        self.at = (self.at + timedelta(seconds=seconds)).replace(microsecond=0)
        return self.at

    def step(self, status: Status, actor: Actor, proposal: int | None = None) -> None:
        self.p.steps.append(Step(status, self.at, actor, proposal))

    def run(self) -> None:
        owner = Actor.slack_user(self.p.owner)
        if self.rng.random() < 0.9:
            self.later(5, 120)
            self.step(Status.EVIDENCE_READY, Actor.system("intake"))
        self.later(600, 8 * 3600)
        self.step(Status.IN_REVIEW, owner)
        if self.rng.random() < WITHDRAWN_SHARE:
            self.later(3600, 3 * 86400)
            self.step(Status.WITHDRAWN, owner)
            return
        self._filed_in_review()
        kind = self._resolve(first=True)
        if self.p.status is Status.RESOLVED:
            self._survey(kind)
            self._reopen()

    def _filed_in_review(self) -> None:
        """Photos the owner shares from the customer's mail (damage and faults, sometimes)."""
        if self.photos or self.p.reason not in (Reason.DAMAGED, Reason.DEFECTIVE):
            return
        if self.rng.random() < 0.5:
            at = self.later(900, 4 * 3600)
            file_id = "F0" + self.p.order.order_id.removeprefix("ORD-")
            name = f"photo-{file_id.lower()}.jpg"
            link = f"https://files.slack.com/files-pri/T0DEMO-{file_id}/{name}"
            payload = {
                "file_id": file_id,
                "name": name,
                "mimetype": "image/jpeg",
                "size": 812_344,
                "shared_by": self.p.owner,
                "photos": [link],
            }
            draft = EvidenceDraft(
                EvidenceKind.PROOF_OF_DAMAGE,
                f"slack:{self.p.owner}",
                f"{name} shared by <@{self.p.owner}>",
                payload,
                url=link,
                captured_at=at,
            )
            self.p.added.append((draft, Actor.slack_user(self.p.owner)))
            self.photos = True

    def _resolve(self, *, first: bool) -> Resolution:
        """Proposals until one is carried out; the kind carried out."""
        for number in range(1, 4):
            kind = self._kind(offer=number < 3 and (first or number > 1))
            index = self._propose(kind)
            if not self.pack.needs_agreement(kind):
                self._carry_out(index)
                return kind
            answer = self._offer(index, number)
            if answer == "accepted":
                self._carry_out(index)
                return kind
        raise AssertionError("the third proposal needs no agreement")

    def _kind(self, *, offer: bool) -> Resolution:
        allowed = self.p.decision.allowed or [Resolution.FULL_REFUND]
        if not self.p.disputed_minor:  # nothing left to pay back: no option that pays
            allowed = [k for k in allowed if k not in MONEY_KINDS | {Resolution.STORE_CREDIT}]
        agreeing = [k for k in allowed if self.pack.needs_agreement(k)]
        if offer and agreeing and self.rng.random() < AGREEMENT_SHARE:
            return self.rng.choice(agreeing)
        plain = [k for k in allowed if not self.pack.needs_agreement(k)]
        recommended = self.p.decision.recommended
        if recommended and recommended.resolution in plain:
            return recommended.resolution
        return self.rng.choice(plain) if plain else Resolution.UPHOLD

    def _propose(self, kind: Resolution) -> int:
        by = self.p.owner
        approver = SUPERVISOR if self.rng.random() < 0.5 or by not in MANAGERS else _other(by)
        amount = _amount(self.rng, kind, self.p.disputed_minor)
        index = len(self.p.proposals)
        self.later(1800, 20 * 3600)
        proposal = Proposed(kind, amount, by, self.at, approver)
        self.p.proposals.append(proposal)
        self.step(Status.PROPOSED, Actor.slack_user(by), index)
        proposal.approved_at = self.later(300, 5 * 3600)
        self.step(Status.APPROVED, Actor.slack_user(approver), index)
        return index

    def _offer(self, index: int, number: int) -> str:
        proposal = self.p.proposals[index]
        proposal.offered_at = self.at
        assert proposal.approver is not None
        self.step(Status.AWAITING_CUSTOMER, Actor.slack_user(proposal.approver), index)
        customer = Actor.customer(self.p.order.customer.email or "customer")
        odds = ACCEPT_LOG_ODDS + (SECOND_OFFER if number > 1 else 0.0)
        odds += (PHOTOS_EFFECT if self.photos else 0.0) + sum(
            RULE_EFFECT.get(rule, 0.0) for rule in self.rules
        )
        slower = (0.4 if self.photos else 1.0) * (1.6 if odds < 0 else 1.0)
        if self.rng.random() < 1 / (1 + math.exp(-odds)):
            proposal.answer, proposal.answered_at = "accepted", self.later(1800, 40 * 3600 * slower)
            self.step(Status.APPROVED, customer, index)
        elif self.rng.random() < 0.8:
            proposal.answer, proposal.answered_at = "declined", self.later(1800, 48 * 3600)
            proposal.decline_reason = self.rng.choice(DECLINES) or None
            self.step(Status.IN_REVIEW, customer, index)
        else:
            proposal.answer = "expired"
            self.at = proposal.offered_at + timedelta(
                days=OFFER_DAYS, minutes=self.rng.randint(1, 5)
            )
            self.step(Status.OFFER_EXPIRED, Actor.system("conversation"), index)
            self.later(1800, 8 * 3600)
            self.step(Status.IN_REVIEW, Actor.slack_user(self.p.owner))
        return proposal.answer

    def _carry_out(self, index: int) -> None:
        proposal = self.p.proposals[index]
        if proposal.kind in MONEY_KINDS:
            proposal.executed_at = self.later(3, 40)
            self.step(Status.EXECUTING, Actor.system("refunds"))
            proposal.settled_at = self.later(2, 30)
            self.step(Status.RESOLVED, Actor.system("refunds"))
            return
        decider = self.p.steps[-1].actor
        self.step(Status.RESOLVED, decider, index)

    def _survey(self, kind: Resolution) -> None:
        """The customer's rating of the closing survey (about half answer)."""
        if self.rng.random() >= 0.5:
            return
        happy = kind not in (Resolution.DENY, Resolution.UPHOLD, Resolution.CARRIER_CLAIM)
        weights = (3, 3, 9, 27, 58) if happy else (30, 25, 20, 15, 10)
        if any(p.answer == "declined" for p in self.p.proposals):
            weights = (8, 12, 20, 32, 28)
        rating = self.rng.choices((1, 2, 3, 4, 5), weights)[0]
        answered = self.at + timedelta(hours=self.rng.uniform(1, 72))
        comment = self.rng.choice(("Quick and fair, thanks.", "Took too long.", None, None))
        self.p.rating = (answered.replace(microsecond=0), rating, comment)

    def _reopen(self) -> None:
        """A few resolved disputes are reopened and resolved again."""
        if self.rng.random() >= REOPEN_SHARE:
            return
        start = self.at
        self.later(2 * 86400, 9 * 86400)
        if self.at > self.now - timedelta(days=1):
            self.at = start
            return
        self.step(Status.REOPENED, Actor.slack_user(self.p.owner))
        self.later(600, 4 * 3600)
        self.step(Status.IN_REVIEW, Actor.slack_user(self.p.owner))
        self._resolve(first=False)


def _other(manager: str) -> str:
    return MANAGERS[1] if manager == MANAGERS[0] else MANAGERS[0]


def _amount(rng: random.Random, kind: Resolution, disputed: int) -> int | None:
    disputed = max(disputed, 100)
    if kind in (Resolution.FULL_REFUND, Resolution.OVERTURN, Resolution.STORE_CREDIT):
        return disputed
    if kind is Resolution.PARTIAL_REFUND:
        return disputed * rng.randint(30, 60) // 100
    if kind is Resolution.WAIVE_FEE:
        return min(disputed, 1_500)
    return None
