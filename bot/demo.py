"""`dispute-desk demo`: the whole demo world on loopback.

The Slack sandbox, localstripe with the demo orders paid in it, an SMTP sink for the customer's
mail, a roles file for the sandbox users, the app on SQLite with 90 days of closed disputes
behind it (`bot.demo_history`, for insights), and a handful of disputes opened through the real
Slack path and left in different states. Ctrl-C (or SIGTERM) stops it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from pathlib import Path

from bot import demo_world
from bot.demo_history import DAYS
from bot.serve import http_server, start_runtime
from bot.settings import Settings, load_settings
from sandbox.page.transcript import render_transcript
from sandbox.slack.driver import SlackDriver
from sandbox.slack.server import EmulatorServer
from sandbox.slack.workspace import Workspace
from sandbox.world.localstripe_runner import API_KEY, LocalStripe
from sandbox.world.mailbox import Mailbox


def _say(text: str) -> None:
    print(text, flush=True)


class _Signals:
    """SIGINT/SIGTERM: while starting, cancel the start-up; once waiting, end the wait."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.waiting = False
        self._main = asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                self._loop.add_signal_handler(sig, self._on_signal)

    def _on_signal(self) -> None:
        first = not self.stop.is_set()
        self.stop.set()
        if first and not self.waiting and self._main is not None:
            self._main.cancel()

    def close(self) -> None:
        self.waiting = True  # the cleanup must not be cancelled
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                self._loop.remove_signal_handler(sig)


async def run_demo(
    *, port: int = 0, data: str | None = None, wait: bool = True, keep: bool = False
) -> int:
    """The demo on the folder `data` (default: the per-user one), which it holds while it runs:
    a second demo there stops at once (a StartupError) rather than wipe this one's data."""
    folder = demo_world.data_folder(data)
    with demo_world.folder_lock(folder):
        return await _run_demo(folder, port=port, wait=wait, keep=keep)


async def _run_demo(folder: Path, *, port: int, wait: bool, keep: bool) -> int:
    signals = _Signals()

    workspace = Workspace.default()
    emulator = EmulatorServer(workspace, port=port)
    stripe: LocalStripe | None = None
    mailbox = Mailbox()
    try:
        await emulator.start()
        _say(f"Dispute Desk sandbox: {emulator.base_url}/")
        demo_world.prepare_folder(folder, keep=keep)
        # Spawned from this (the main) thread: the child's death signal follows this thread.
        stripe = LocalStripe(store=folder / demo_world.STRIPE_STORE)
        stripe.spawn()
        await stripe.wait_ready_async()
        orders = await demo_world.pay_orders(folder, stripe.url)
        _say(f"localstripe: {stripe.url} (pid {stripe.pid}) · orders {orders}")
        await mailbox.start()
        emulator.attach_mailbox(mailbox)
        _say(f"Customer mail (SMTP sink): {mailbox.url}")
        database = folder / demo_world.DB_NAME
        # The app's socket is bound first: the customer's links must carry its address.
        listener = app_socket()
        app_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        settings = demo_settings(
            bot_token=workspace.bot_token,
            api_url=emulator.api_url,
            database=database,
            orders=orders,
            roles=demo_world.write_roles(folder),
            stripe_url=stripe.url,
            mail_url=mailbox.url,
            keys=demo_world.new_secrets(),
            public_url=app_url,
        )
        # Before the app starts: the history holds the first numbers, and the first weekly
        # report (made at start once this week's moment has passed) charts it.
        if written := await demo_world.seed_history(settings):
            _say(f"History: {written} closed disputes over {DAYS} days (D-1 .. D-{written})")
        await _run_app(
            settings, workspace, emulator, signals, wait, keep, database, listener, mailbox
        )
    except asyncio.CancelledError:
        if not signals.stop.is_set():
            raise
        _say("Interrupted while starting; stopped.")
        return 130
    finally:
        signals.waiting = True  # no more cancelling: the cleanup below must run to the end
        emulator.attach_mailbox(None)
        await mailbox.stop()
        if stripe is not None:
            stripe.stop()
        await emulator.stop()
        signals.close()
    return 0


def demo_settings(
    *,
    bot_token: str,
    api_url: str,
    database: Path,
    orders: Path,
    roles: Path,
    stripe_url: str,
    mail_url: str,
    keys: demo_world.DemoSecrets,
    public_url: str | None = None,
) -> Settings:
    """The app's settings for the demo world: Slack requests and customer replies are signed
    with different secrets, as in a real installation."""
    return load_settings(
        slack_bot_token=bot_token,
        slack_signing_secret=keys.signing,
        slack_app_token=None,
        slack_api_url=api_url,
        database_url=f"sqlite+aiosqlite:///{database}",
        disputes_channel="#disputes",
        supervisors_channel="#dispute-supervisors",
        order_source=f"fixtures:{orders}",
        roles_file=roles,
        refund_gateway="stripe",
        stripe_api_key=API_KEY,
        stripe_api_base=stripe_url,
        customer_channel=mail_url,
        customer_from="care@shop.example",
        refund_lease_seconds=5,
        # A scan a minute; no daily summary (it would go out at start, before the seeds).
        alert_scan_every=60,
        alert_summary_at=None,
        inbound_secret=keys.inbound,
        host="127.0.0.1",
        port=0,
        public_url=public_url,
    )


def app_socket() -> socket.socket:
    """A loopback socket on a free port, for the app to serve on."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    return listener


async def _run_app(
    settings: Settings,
    workspace: Workspace,
    emulator: EmulatorServer,
    signals: _Signals,
    wait: bool,
    keep: bool,
    database: os.PathLike[str],
    listener: socket.socket,
    mailbox: Mailbox,
) -> None:
    runtime = await start_runtime(settings)
    server = http_server(runtime, "127.0.0.1", 0)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        app_port = server.servers[0].sockets[0].getsockname()[1]
        app_url = f"http://127.0.0.1:{app_port}"
        _say(f"App (HTTP mode): {app_url}/slack/events · database {database}")
        signing_secret = settings.slack_signing_secret
        assert signing_secret is not None
        async with SlackDriver(app_url, signing_secret, workspace, emulator.base_url) as driver:
            existing = await demo_world.opened_orders(runtime.db) if keep else set()
            seeded = await demo_world.seed(driver, workspace, existing, mailbox)
            await demo_world.give_owners(driver, workspace, seeded)
            await runtime.queue.join()
            await demo_world.make_late(runtime.db, seeded)
            if runtime.alerting is not None:  # the supervisors' digest names the late ones
                await runtime.alerting.tick()
            if runtime.conversation is not None:  # the offers and closings mailed, and shown
                await runtime.conversation.outbox.idle()
            _say("\n" + render_transcript(workspace))
            if wait:
                # The page's composer, buttons and modals reach the app through this driver.
                emulator.attach_driver(driver)
                emulator.attach_inbound(app_url, settings.inbound_secret)
                _say(f"\nOpen {emulator.base_url}/ to use the workspace. Ctrl-C stops the demo.")
                signals.waiting = True
                await signals.stop.wait()
                emulator.attach_driver(None)
                emulator.attach_inbound(None)
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 15)
        listener.close()
        await runtime.aclose()
