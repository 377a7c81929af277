"""localstripe (a Stripe stand-in) as a loopback subprocess, fresh for every start.

localstripe is GPL-licensed: it is only ever run as an installed package, never copied here.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import httpx
import pytest

API_KEY = "sk_test_dispute_desk"

# The listening socket is bound here and handed over by number, so no other process can take the
# port between choosing it and listening on it. The store starts empty because the runner never
# loads localstripe's pickle, and it never writes that pickle either: the file has one fixed path
# in /tmp that every localstripe on the machine shares.
_RUNNER = """
import socket, sys
import aiohttp.web
import localstripe.resources
import localstripe.server
localstripe.resources.Store.dump_to_disk = lambda self: None
sock = socket.socket(fileno=int(sys.argv[1]))
aiohttp.web.run_app(localstripe.server.app, sock=sock, print=None, access_log=None)
"""


def localstripe_installed() -> bool:
    return importlib.util.find_spec("localstripe") is not None


def require_localstripe() -> None:
    """Skip the test on a laptop without localstripe; fail in CI, where it must be installed."""
    if localstripe_installed():
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail("localstripe is missing in CI: install the dev extra (pip install -e '.[dev]')")
    pytest.skip("localstripe is not installed (pip install -e '.[dev]')")


@contextmanager
def localstripe_server(*, start_timeout: float = 30.0) -> Iterator[str]:
    """Start localstripe on 127.0.0.1 at a free port; yield its base URL; stop it afterwards."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    with tempfile.TemporaryFile() as log, listener:
        process = subprocess.Popen(
            [sys.executable, "-c", _RUNNER, str(listener.fileno())],
            pass_fds=(listener.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_answering(url, process, log, start_timeout)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_answering(
    url: str, process: subprocess.Popen[bytes], log: IO[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise RuntimeError(f"localstripe exited with {process.returncode}:\n{output}")
        try:
            response = httpx.get(f"{url}/v1/refunds", params={"limit": 1}, headers=_auth())
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"localstripe did not answer within {timeout:g}s")
        time.sleep(0.05)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


async def create_payment(base: str, amount_minor: int, currency: str) -> str:
    """A confirmed, succeeded card payment intent; its id (pi_...)."""
    async with httpx.AsyncClient(base_url=base, headers=_auth()) as client:
        response = await client.post(
            "/v1/payment_intents",
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
