"""localstripe (a Stripe stand-in) as a loopback subprocess, fresh for every start.

localstripe is GPL-licensed: it is only ever run as an installed package, never copied here.
Used by `dispute-desk demo` and by the tests.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

API_KEY = "sk_test_dispute_desk"

# The listening socket is bound here and handed over by number, so no other process can take the
# port between choosing it and listening on it. The store starts empty because the runner never
# loads localstripe's pickle, and it never writes that pickle either: the file has one fixed path
# in /tmp that every localstripe on the machine shares. With a store path (the demo's --keep), it
# loads and saves that private file instead.
# On Linux the child asks to get SIGTERM when its parent dies (PR_SET_PDEATHSIG), and exits at
# once if the parent is already gone, so a killed demo leaves no localstripe behind.
_RUNNER = """
import os, pickle, signal, socket, sys
if sys.platform.startswith("linux"):
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != int(sys.argv[2]):
        sys.exit(0)
import aiohttp.web
import localstripe.resources
import localstripe.server
store = localstripe.resources.Store
path = sys.argv[3] if len(sys.argv) > 3 else ""
if path:
    def dump(self):
        with open(path + ".tmp", "wb") as f:
            pickle.dump(dict(self), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(path + ".tmp", path)
    if os.path.exists(path):
        with open(path, "rb") as f:
            dict.update(localstripe.resources.store, pickle.load(f))
    store.dump_to_disk = dump
else:
    store.dump_to_disk = lambda self: None
sock = socket.socket(fileno=int(sys.argv[1]))
aiohttp.web.run_app(localstripe.server.app, sock=sock, print=None, access_log=None)
"""


def auth_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


class LocalStripe:
    """One localstripe subprocess on 127.0.0.1; `start()` from the thread that will outlive it
    (the child's death signal follows the thread that started it)."""

    def __init__(self, *, store: Path | None = None) -> None:
        self.store = store
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def spawn(self) -> str:
        """Start the subprocess (without waiting for it to answer); its base URL."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
            self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
            args = [sys.executable, "-c", _RUNNER, str(listener.fileno()), str(os.getpid())]
            if self.store is not None:
                args.append(str(self.store))
            self.process = subprocess.Popen(
                args,
                pass_fds=(listener.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
        return self.url

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            output = ""
            if self._log is not None:
                self._log.seek(0)
                output = self._log.read().decode(errors="replace")
            raise RuntimeError(f"localstripe exited with {self.process.returncode}:\n{output}")

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            try:
                response = httpx.get(
                    f"{self.url}/v1/refunds", params={"limit": 1}, headers=auth_headers()
                )
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"localstripe did not answer within {timeout:g}s")
            time.sleep(0.05)

    async def wait_ready_async(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(headers=auth_headers(), timeout=5) as client:
            while True:
                self._check_alive()
                try:
                    response = await client.get(f"{self.url}/v1/refunds", params={"limit": 1})
                    if response.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"localstripe did not answer within {within:g}s")
                await asyncio.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate, then kill if it lingers; idempotent."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


@contextmanager
def localstripe_server(*, start_timeout: float = 30.0) -> Iterator[str]:
    """Start localstripe on 127.0.0.1 at a free port; yield its base URL; stop it afterwards."""
    stripe = LocalStripe()
    stripe.spawn()
    try:
        stripe.wait_ready(start_timeout)
        yield stripe.url
    finally:
        stripe.stop(timeout=10)


async def create_payment(
    base: str, amount_minor: int, currency: str, *, client: httpx.AsyncClient | None = None
) -> str:
    """A confirmed, succeeded card payment intent; its id (pi_...)."""
    if client is None:
        async with httpx.AsyncClient(headers=auth_headers()) as own:
            return await create_payment(base, amount_minor, currency, client=own)
    response = await client.post(
        f"{base}/v1/payment_intents",
        headers=auth_headers(),
        data={
            "amount": str(amount_minor),
            "currency": currency.lower(),
            "payment_method_types[]": "card",
            "payment_method": "pm_card_visa",
            "confirm": "true",
        },
    )
    response.raise_for_status()
    body = response.json()
    if body.get("status") != "succeeded":
        raise RuntimeError(f"localstripe payment intent did not succeed: {body}")
    return str(body["id"])


async def create_refund(
    base: str, payment_intent: str, amount_minor: int, *, client: httpx.AsyncClient
) -> str:
    """A refund made on the payment by someone other than the app (the shop's own system)."""
    response = await client.post(
        f"{base}/v1/refunds",
        headers=auth_headers(),
        data={"payment_intent": payment_intent, "amount": str(amount_minor)},
    )
    response.raise_for_status()
    return str(response.json()["id"])
