"""The composition root: settings in, a running set of services out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerting import Alerting
from bot.app import build_bolt_app
from bot.channels import resolve_channel
from bot.conversation_runtime import Conversation, build_conversation
from bot.conversation_wiring import ConversationReporter
from bot.dedupe import RecentKeys
from bot.errors import StartupError
from bot.housekeeping import Housekeeping
from bot.metrics import counting_refund_outcomes
from bot.money_wiring import GroupDirectory, RefundReporter, load_gateway, load_roles
from bot.reporting import WeeklyReporting
from bot.settings import Settings
from bot.sla_loading import load_sla
from bot.slack_wiring import ThreadPosting, slack_client, thread_publisher
from bot.workers import WorkQueue
from connectors.evidence_source import EvidenceSource
from connectors.orders.evidence_sources import default_evidence_sources
from connectors.orders.factory import order_source_from_spec
from connectors.orders.protocol import OrderSource
from connectors.refunds.protocol import RefundGateway
from disputes.alerts import AlertService
from disputes.assignment import AssignmentService
from disputes.case_files import DisputeService
from disputes.customer_answers import CustomerAnswers
from disputes.insight_access import InsightsAccess
from disputes.insights import InsightsService
from disputes.intake import IntakeService
from disputes.ledger import LedgerReader
from disputes.notes import NoteService
from disputes.permissions import Gate
from disputes.policy_decisions import PolicyService
from disputes.queues import QueueService
from disputes.refund_worker import RefundWorker, Timings
from disputes.resolution import ResolutionService
from disputes.roles import CurrentRoles
from disputes.sla_clock import watch
from disputes.sla_scan import SlaScan
from disputes.weekly_reports import WeeklyReports
from handlers.deps import Deps, Job, RequestKey
from handlers.digests import DigestPublisher
from handlers.slack_client import LimitedWebClient
from policies.current import CurrentPack
from policies.loader import PackError
from policies.sla import SlaPolicy
from storage.db import Database
from storage.migrate import SchemaNotCurrent, apply_migrations, require_current_schema
from storage.requests import claim_request

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    orders: OrderSource
    queue: WorkQueue
    client: LimitedWebClient
    app: AsyncApp
    deps: Deps
    worker: RefundWorker | None = None
    gateway: RefundGateway | None = None
    housekeeping: Housekeeping | None = None
    conversation: Conversation | None = None
    answers: CustomerAnswers | None = None
    sla: SlaPolicy | None = None
    alerting: Alerting | None = None
    reporting: WeeklyReporting | None = None
    posting: ThreadPosting | None = None

    async def aclose(self) -> None:
        if self.reporting is not None:
            await self.reporting.stop()
        if self.alerting is not None:
            await self.alerting.stop()
        if self.housekeeping is not None:
            await self.housekeeping.stop()
        await self.queue.stop()
        if self.posting is not None:
            await self.posting.aclose()
        if self.conversation is not None:
            await self.conversation.aclose()
        if self.worker is not None:
            await self.worker.stop()
        if self.gateway is not None:
            await self.gateway.aclose()
        await self.orders.aclose()
        await self.client.aclose()
        await self.db.dispose()


def once(db: Database, job: Job, key: RequestKey | None) -> Job:
    """Wrap `job` so it runs only if this is the first time any replica sees `key`."""

    async def run() -> None:
        if key is not None and not await claim_request(db, key.key, key.kind):
            log.info("skipping %s already processed: %s", key.kind, key.key[:24])
            return
        await job()

    return run


def load_current_pack(path: Path) -> CurrentPack:
    """The policy pack, or a start-up error listing every problem in it."""
    try:
        return CurrentPack(path)
    except PackError as exc:
        problems = "\n".join(str(problem) for problem in exc.problems)
        raise StartupError(f"POLICY_PACK {path} has problems:\n{problems}") from None
    except OSError as exc:
        raise StartupError(f"POLICY_PACK {path} cannot be read: {exc.strerror}") from None


def refund_timings(settings: Settings) -> Timings:
    lease = settings.refund_lease_seconds
    return Timings(
        lease=timedelta(seconds=lease),
        settle=timedelta(seconds=settings.refund_settle_seconds),
        attention_after=timedelta(seconds=settings.refund_attention_after),
        poll_seconds=min(5.0, lease / 2),
    )


async def prepare_schema(db: Database, *, migrate: bool) -> None:
    """Migrate (one process at a time, the others wait), or with `migrate` off only check that
    someone did: a schema that is not current stops start-up with one line."""
    if not migrate:
        try:
            revision = await require_current_schema(db)
        except SchemaNotCurrent as exc:
            raise StartupError(str(exc)) from None
        log.info("schema current at %s (not migrating: --no-migrate)", revision)
        return
    log.info("%s", (await apply_migrations(db)).describe())


def weekly_reporting(
    settings: Settings,
    db: Database,
    insights: InsightsService,
    client: AsyncWebClient,
    supervisors: str | None,
    sla: SlaPolicy,
    every: timedelta,
) -> WeeklyReporting | None:
    """The weekly insights report to the supervisors' channel, looked for as often as the
    bottleneck scan runs; None when INSIGHTS_REPORT_AT is off or there is no such channel."""
    schedule = settings.weekly_report_at
    if schedule is None:
        return None
    if supervisors is None:
        log.info("no SUPERVISORS_CHANNEL: the weekly insights report is off")
        return None
    # Long enough for a report and its upload: a holder still working keeps the lease.
    reports = WeeklyReports(db, lease_for=max(timedelta(minutes=5), every * 3))
    return WeeklyReporting(
        reports,
        insights,
        client,
        supervisors,
        schedule=schedule,
        zone=sla.calendar.zone,
        every=every,
    )


async def build_runtime(
    settings: Settings,
    *,
    evidence_sources: list[EvidenceSource] | None = None,
    migrate: bool = True,
) -> Runtime:
    """Migrate (unless told not to), connect, resolve channels and wire the Bolt app; raise on
    any bad setting."""
    settings.require_serving()
    current_pack = load_current_pack(settings.policy_pack)
    sla = load_sla(settings.sla_file)  # a file with problems stops start-up, listing them
    orders = order_source_from_spec(settings.order_source)
    # The settings read so far are sound: only now is the database touched.
    db = Database(settings.database_url)
    try:
        await prepare_schema(db, migrate=migrate)
    except BaseException:
        await db.dispose()
        await orders.aclose()
        raise
    watch(db, sla)  # every dispute written keeps its service-level clock
    roles = load_roles(settings.roles_file)
    client = slack_client(settings)
    try:
        return await _wire(settings, db, orders, client, current_pack, sla, roles, evidence_sources)
    except BaseException:
        await client.aclose()  # a start-up refused after a Slack call leaves no session open
        raise


async def _wire(
    settings: Settings,
    db: Database,
    orders: OrderSource,
    client: LimitedWebClient,
    current_pack: CurrentPack,
    sla: SlaPolicy,
    roles: CurrentRoles,
    evidence_sources: list[EvidenceSource] | None,
) -> Runtime:
    """The services, workers and the Bolt app around the database and the Slack client."""
    assert settings.disputes_channel is not None
    channel_id = await resolve_channel(client, "DISPUTES_CHANNEL", settings.disputes_channel)
    gateway = load_gateway(settings)
    ledger = LedgerReader(db, gateway)
    gate = Gate(db, roles)
    disputes = DisputeService(db, gate)
    policy = PolicyService(db, current_pack)
    threads, posting = thread_publisher(settings, db, client, channel_id, disputes, policy)
    intake = IntakeService(
        db,
        orders,
        evidence_sources if evidence_sources is not None else default_evidence_sources(),
        policy=current_pack,
        ledger=ledger,
        gate=gate,
        owners=roles,
        thread_claims=threads.claims,
    )
    supervisors = None
    if settings.supervisors_channel:
        supervisors = await resolve_channel(
            client, "SUPERVISORS_CHANNEL", settings.supervisors_channel
        )
    worker = (
        RefundWorker(db, gateway, timings=refund_timings(settings)) if gateway is not None else None
    )
    conversation = build_conversation(settings, db, current_pack, gate)
    resolution = ResolutionService(
        db,
        policy,
        roles,
        gateway_name=gateway.name if gateway is not None else None,
        ledger=ledger,
        orders=orders,
        on_refund_queued=worker.wake if worker is not None else lambda: None,
        settle=timedelta(seconds=settings.refund_settle_seconds),
        gate=gate,
        offers=conversation.offers,
        on_message_queued=conversation.outbox.wake,
    )
    reporter = ConversationReporter(conversation.service, disputes, threads, resolution)
    conversation.outbox.notify = reporter.delivered
    conversation.chores.notify = reporter.chore_done
    answers = CustomerAnswers(db, conversation.signer, resolution, notify=reporter.answered)
    if worker is not None:
        worker.notify = counting_refund_outcomes(
            RefundReporter(disputes, threads, resolution, orders, supervisors)
        )
    queue = WorkQueue(settings.intake_workers)
    queue.start()
    if worker is not None:
        worker.start()
    conversation.start()

    def submit(job: Job, key: RequestKey | None) -> None:
        queue.submit(once(db, job, key))

    destinations = {f"dm:{person}": person for person in settings.dm_users}
    if supervisors is not None:
        destinations = {"supervisors": supervisors, **destinations}
    every = timedelta(seconds=settings.alert_scan_every)
    scan = SlaScan(
        db,
        sla,
        roles,
        destinations=list(destinations),
        lease_for=max(timedelta(seconds=30), every * 3),
        summary_at=settings.summary_time,
    )
    alert_service = AlertService(db, gate, snooze=timedelta(minutes=settings.alert_snooze_minutes))
    digests = DigestPublisher(client, alert_service, destinations, threads.links)
    alerting = Alerting(scan, digests, threads, every=every)
    insights = InsightsService(db, sla)
    reporting = weekly_reporting(settings, db, insights, client, supervisors, sla, every)

    deps = Deps(
        disputes=disputes,
        intake=intake,
        policy=policy,
        resolution=resolution,
        threads=threads,
        submit=submit,
        groups_of=GroupDirectory(roles).groups_of,
        supervisors_channel=supervisors,
        conversation=conversation.service,
        notes=NoteService(db),
        assignment=AssignmentService(db, roles, gate),
        alerts=alert_service,
        digests=digests,
        queues=QueueService(db, roles, resolution, gate=gate, sla=sla),
        insights=InsightsAccess(insights, gate),
    )
    app = build_bolt_app(
        client=client,
        signing_secret=settings.slack_signing_secret,
        deps=deps,
        recent=RecentKeys(),
    )
    log.info("disputes channel %s resolved to %s", settings.disputes_channel, channel_id)
    housekeeping = Housekeeping(db)
    housekeeping.start()
    alerting.start()
    if reporting is not None:
        reporting.start()
    posting.start()
    return Runtime(
        settings,
        db,
        orders,
        queue,
        client,
        app,
        deps,
        worker,
        gateway,
        housekeeping,
        conversation,
        answers,
        sla,
        alerting,
        reporting,
        posting,
    )
