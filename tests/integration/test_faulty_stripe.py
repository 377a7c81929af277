"""The fault-injecting proxy in front of a real localstripe, over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from sandbox.waiting import eventually
from sandbox.world.localstripe_runner import auth_headers
from tests.support.faulty_stripe import Fault, FaultyStripe, refunds_at
from tests.support.localstripe import create_payment, localstripe_server, require_localstripe


@pytest.fixture(scope="module")
def stripe() -> Iterator[str]:
    require_localstripe()
    with localstripe_server() as base:
        yield base


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(headers=auth_headers(), timeout=5, trust_env=False) as client:
        yield client


async def send_refund(
    http: httpx.AsyncClient,
    base: str,
    payment: str,
    *,
    amount: int = 500,
    wait: float = 5.0,
    request_id: str | None = None,
) -> httpx.Response:
    return await http.post(
        f"{base}/v1/refunds",
        headers={"Idempotency-Key": f"key-{uuid.uuid4().hex}"},
        data={
            "payment_intent": payment,
            "amount": str(amount),
            "metadata[refund_request]": request_id or uuid.uuid4().hex,
        },
        timeout=wait,
    )


async def list_refunds(http: httpx.AsyncClient, base: str, payment: str) -> httpx.Response:
    return await http.get(f"{base}/v1/refunds", params={"payment_intent": payment, "limit": 100})


@contextlib.contextmanager
def nothing_listening() -> Iterator[str]:
    """A loopback base URL on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def refund_count_becomes(
    http: httpx.AsyncClient, stripe: str, payment: str, count: int, within: float
) -> float:
    """Seconds until the provider holds `count` refunds of `payment`."""
    start = time.monotonic()
    while len(await refunds_at(stripe, payment, client=http)) != count:
        assert time.monotonic() - start < within, f"no {count} refunds within {within}s"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_passes_requests_through_unchanged_and_logs_them(
    stripe: str, http: httpx.AsyncClient
) -> None:
    async with FaultyStripe(stripe) as proxy:
        payment = await create_payment(proxy.url, 2500, "usd", client=http)
        answer = await send_refund(http, proxy.url, payment, amount=700, request_id="rr-1")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/json")
        refund = answer.json()
        assert (refund["amount"], refund["metadata"]) == (700, {"refund_request": "rr-1"})
        assert [r["id"] for r in await refunds_at(stripe, payment, client=http)] == [refund["id"]]

        through = await list_refunds(http, proxy.url, payment)
        direct = await list_refunds(http, stripe, payment)
        assert through.status_code == 200
        assert through.json() == direct.json()

        log = proxy.log
        assert [(e.method, e.path, e.kind) for e in log] == [
            ("POST", "/v1/payment_intents", "other"),
            ("POST", "/v1/refunds", "refund_post"),
            ("GET", "/v1/refunds", "refund_lookup"),
        ]
        post = log[1]
        assert post.idempotency_key is not None and post.idempotency_key.startswith("key-")
        assert post.refund_request == "rr-1"
        assert (post.fault, post.forwarded, post.upstream_status, post.status) == (
            None,
            True,
            200,
            200,
        )
        assert log[2].query == f"payment_intent={payment}&limit=100"
        assert proxy.forwarded_posts() == [post]
        assert proxy.count("refund_lookup") == 1
        assert proxy.count("any") == 3


async def test_forwards_method_path_query_body_and_headers(
    stripe: str, http: httpx.AsyncClient
) -> None:
    payment = await create_payment(stripe, 2500, "usd", client=http)
    async with FaultyStripe(stripe) as inner, FaultyStripe(inner.url) as outer:
        answer = await send_refund(http, outer.url, payment, amount=300, request_id="rr-é&2")
        assert answer.status_code == 200
        assert answer.json()["metadata"] == {"refund_request": "rr-é&2"}
        lookup = await http.get(
            f"{outer.url}/v1/refunds", params={"payment_intent": payment, "limit": "3"}
        )
        assert [r["id"] for r in lookup.json()["data"]] == [answer.json()["id"]]
        sent, seen = outer.log, inner.log
    assert [(e.method, e.path, e.query) for e in seen] == [
        (e.method, e.path, e.query) for e in sent
    ]
    assert seen[0].idempotency_key == sent[0].idempotency_key
    assert seen[0].refund_request == "rr-é&2"
    assert seen[1].query == f"payment_intent={payment}&limit=3"


async def test_lose_answer_times_the_client_out_though_the_refund_exists(
    stripe: str, http: httpx.AsyncClient
) -> None:
    payment = await create_payment(stripe, 3000, "usd", client=http)
    async with FaultyStripe(stripe) as proxy:
        proxy.plan("refund_post", Fault.lose_answer())
        with pytest.raises(httpx.ReadTimeout):
            await send_refund(http, proxy.url, payment, wait=0.15)
        assert [r["amount"] for r in await refunds_at(stripe, payment, client=http)] == [500]
        await proxy.settle()
        (post,) = proxy.log
        assert (post.fault, post.forwarded, post.upstream_status, post.status) == (
            "lose_answer",
            True,
            200,
            None,
        )


async def test_drop_before_times_the_client_out_and_nothing_happens(
    stripe: str, http: httpx.AsyncClient
) -> None:
    payment = await create_payment(stripe, 3000, "usd", client=http)
    async with FaultyStripe(stripe) as proxy:
        proxy.plan("refund_post", Fault.drop_before())
        with pytest.raises(httpx.ReadTimeout):
            await send_refund(http, proxy.url, payment, wait=0.15)
        await proxy.settle()
        assert await refunds_at(stripe, payment, client=http) == []
        assert proxy.count("refund_post", forwarded=False) == 1
        assert proxy.forwarded_posts() == []


async def test_drop_before_without_a_hold_closes_the_connection(
    stripe: str, http: httpx.AsyncClient
) -> None:
    payment = await create_payment(stripe, 3000, "usd", client=http)
    async with FaultyStripe(stripe) as proxy:
        proxy.plan("refund_post", Fault.drop_before(hold=0))
        with pytest.raises(httpx.RemoteProtocolError):
            await send_refund(http, proxy.url, payment)
        assert await refunds_at(stripe, payment, client=http) == []
        # The next request goes through on a fresh connection.
        assert (await send_refund(http, proxy.url, payment)).status_code == 200
        assert len(await refunds_at(stripe, payment, client=http)) == 1


async def test_delay_effect_refunds_after_the_client_gave_up(
    stripe: str, http: httpx.AsyncClient
) -> None:
    payment = await create_payment(stripe, 3000, "usd", client=http)
    async with FaultyStripe(stripe) as proxy:
        proxy.plan("refund_post", Fault.delay_effect(0.6))
        sent = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await send_refund(http, proxy.url, payment, wait=0.2)
        assert await refunds_at(stripe, payment, client=http) == []
        assert proxy.forwarded_posts() == []
        await refund_count_becomes(http, stripe, payment, 1, within=5)
        assert time.monotonic() - sent >= 0.6
        await proxy.settle()
        (post,) = proxy.forwarded_posts()
        assert post.forwarded_at is not None and post.forwarded_at - post.at >= 0.6
        assert (post.upstream_status, post.status) == (200, None)


async def test_delay_effect_answers_a_client_that_waits(
    stripe: str, http: httpx.AsyncClient
) -> None:
    payment = await create_payment(stripe, 3000, "usd", client=http)
    async with FaultyStripe(stripe) as proxy:
        proxy.plan("refund_post", Fault.delay_effect(0.25))
        sent = time.monotonic()
        answer = await send_refund(http, proxy.url, payment, wait=5)
        assert time.monotonic() - sent >= 0.25
        assert answer.status_code == 200
        assert [r["id"] for r in await refunds_at(stripe, payment, client=http)] == [
            answer.json()["id"]
        ]


async def test_status_answers_a_stripe_error_without_forwarding(
    stripe: str, http: httpx.AsyncClient
) -> None:
    payment = await create_payment(stripe, 3000, "usd", client=http)
    async with FaultyStripe(stripe) as proxy:
        proxy.plan("refund_lookup", Fault.status(404))
        proxy.plan("refund_lookup", Fault.status(403, body={"error": {"message": "custom"}}))
        proxy.plan("refund_post", Fault.status(503))
        missing = await list_refunds(http, proxy.url, payment)
        assert missing.status_code == 404
        error = missing.json()["error"]
        assert (error["type"], error["code"]) == ("invalid_request_error", "resource_missing")
        assert error["message"]
        forbidden = await list_refunds(http, proxy.url, payment)
        assert (forbidden.status_code, forbidden.json()) == (403, {"error": {"message": "custom"}})
        unavailable = await send_refund(http, proxy.url, payment)
        assert unavailable.status_code == 503
        assert unavailable.json()["error"]["type"] == "api_error"
        assert await refunds_at(stripe, payment, client=http) == []
        assert [(e.fault, e.forwarded, e.status) for e in proxy.log] == [
            ("status", False, 404),
            ("status", False, 403),
            ("status", False, 503),
        ]


async def test_status_after_forward_refunds_yet_answers_an_error(
    stripe: str, http: httpx.AsyncClient
) -> None:
    payment = await create_payment(stripe, 3000, "usd", client=http)
    async with FaultyStripe(stripe) as proxy:
        proxy.plan("refund_post", Fault.status_after_forward(400))
        answer = await send_refund(http, proxy.url, payment)
        assert answer.status_code == 400
        assert answer.json()["error"]["type"] == "invalid_request_error"
        assert [r["amount"] for r in await refunds_at(stripe, payment, client=http)] == [500]
        (post,) = proxy.log
        assert (post.forwarded, post.upstream_status, post.status) == (True, 200, 400)


async def test_slow_acts_at_once_and_answers_late(stripe: str, http: httpx.AsyncClient) -> None:
    payment = await create_payment(stripe, 3000, "usd", client=http)
    async with FaultyStripe(stripe) as proxy:
        proxy.plan("refund_post", Fault.slow(0.4))
        sent = time.monotonic()
        waiting = asyncio.create_task(send_refund(http, proxy.url, payment, wait=5))
        await refund_count_becomes(http, stripe, payment, 1, within=5)
        assert not waiting.done()
        answer = await waiting
        assert time.monotonic() - sent >= 0.4
        assert answer.status_code == 200
        assert [r["id"] for r in await refunds_at(stripe, payment, client=http)] == [
            answer.json()["id"]
        ]


async def test_faults_apply_in_fifo_order_with_their_counts(
    stripe: str, http: httpx.AsyncClient
) -> None:
    payment = await create_payment(stripe, 10_000, "usd", client=http)
    async with FaultyStripe(stripe) as proxy:
        proxy.plan("refund_post", Fault.status(500), times=2)
        proxy.plan("refund_lookup", Fault.status(401))
        proxy.plan("any", Fault.status(429))
        proxy.plan("refund_post", Fault.status(502))
        assert [(p["kind"], p["code"], p["times"]) for p in proxy.planned()] == [
            ("refund_post", 500, 2),
            ("refund_lookup", 401, 1),
            ("any", 429, 1),
            ("refund_post", 502, 1),
        ]
        posts = [(await send_refund(http, proxy.url, payment)).status_code for _ in range(4)]
        assert posts == [500, 500, 429, 502]
        lookups = [(await list_refunds(http, proxy.url, payment)).status_code for _ in range(2)]
        assert lookups == [401, 200]
        assert proxy.planned() == []
        assert proxy.count("refund_post", forwarded=False) == 4
        assert proxy.count("refund_post", forwarded=None) == 4
        assert proxy.count("refund_lookup") == 1

        proxy.plan("refund_lookup", Fault.status(404), times=None)
        proxy.plan("refund_post", Fault.status(500), times=3)
        for _ in range(3):
            assert (await list_refunds(http, proxy.url, payment)).status_code == 404
        proxy.clear()
        assert proxy.planned() == []
        assert (await send_refund(http, proxy.url, payment)).status_code == 200
        assert (await list_refunds(http, proxy.url, payment)).status_code == 200
        assert len(proxy.log) == 11
        proxy.clear(log=True)
        assert proxy.log == []


def test_plans_are_checked() -> None:
    proxy = FaultyStripe("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="kind"):
        proxy.plan("refund_get", Fault.status(404))
    with pytest.raises(ValueError, match="times"):
        proxy.plan("refund_post", Fault.status(404), times=0)
    with pytest.raises(ValueError, match="code"):
        Fault.status(99)
    with pytest.raises(ValueError, match="seconds"):
        Fault.slow(-1)
    with pytest.raises(ValueError, match="unknown fault"):
        Fault.from_json({"fault": "explode"})
    assert Fault.from_json({"fault": "drop_before"}) == Fault.drop_before()
    assert Fault.from_json({"fault": "lose_answer", "hold": 2}) == Fault.lose_answer(2)
    assert proxy.planned() == []


async def test_faults_can_be_planned_over_http(stripe: str, http: httpx.AsyncClient) -> None:
    payment = await create_payment(stripe, 3000, "usd", client=http)
    async with (
        FaultyStripe(stripe) as proxy,
        httpx.AsyncClient(base_url=proxy.url, trust_env=False) as control,
    ):
        plan = {"kind": "refund_post", "fault": "delay_effect", "seconds": 0.3, "times": 1}
        created = await control.post("/_faults", json=plan)
        assert created.status_code == 201
        assert created.json() == plan
        missing = {"kind": "refund_lookup", "fault": "status", "code": 404}
        assert (await control.post("/_faults", json=missing)).status_code == 201
        assert [p["fault"] for p in (await control.get("/_faults")).json()["planned"]] == [
            "delay_effect",
            "status",
        ]
        for bad in (
            {"kind": "refund_post", "fault": "explode"},
            {"kind": "nothing", "fault": "slow", "seconds": 1},
            {"kind": "refund_post", "fault": "slow"},
            {"kind": "refund_post", "fault": "status", "code": "x"},
            {"kind": "refund_post", "fault": "slow", "seconds": 1, "times": 0},
        ):
            answer = await control.post("/_faults", json=bad)
            assert answer.status_code == 400, bad
            assert answer.json()["error"]
        assert (await control.post("/_faults", content=b"not json")).status_code == 400
        assert (await control.get("/_faults/nowhere")).status_code == 404

        with pytest.raises(httpx.ReadTimeout):
            await send_refund(http, proxy.url, payment, wait=0.1)
        assert (await list_refunds(http, proxy.url, payment)).status_code == 404
        await refund_count_becomes(http, stripe, payment, 1, within=5)
        await proxy.settle()

        log = (await control.get("/_faults/log")).json()["log"]
        assert [(e["kind"], e["fault"], e["forwarded"], e["upstream_status"]) for e in log] == [
            ("refund_post", "delay_effect", True, 200),
            ("refund_lookup", "status", False, None),
        ]
        assert all(not e["path"].startswith("/_faults") for e in log)

        assert (await control.post("/_faults", json=missing)).status_code == 201
        assert (await control.delete("/_faults")).json() == {"planned": []}
        assert (await list_refunds(http, proxy.url, payment)).status_code == 200
        assert len((await control.get("/_faults/log")).json()["log"]) == 3
        await control.delete("/_faults", params={"log": "1"})
        assert (await control.get("/_faults/log")).json()["log"] == []


def test_thread_mode_serves_while_the_caller_blocks(stripe: str) -> None:
    payment = asyncio.run(create_payment(stripe, 3000, "usd"))

    def refund(client: httpx.Client, amount: int) -> httpx.Response:
        return client.post(
            f"{proxy.url}/v1/refunds",
            headers=auth_headers(),
            data={"payment_intent": payment, "amount": str(amount)},
            timeout=0.15,
        )

    with FaultyStripe(stripe) as proxy, httpx.Client(timeout=5, trust_env=False) as client:
        assert proxy.url.startswith("http://127.0.0.1:")
        proxy.plan("refund_post", Fault.lose_answer())
        with pytest.raises(httpx.ReadTimeout):
            refund(client, 300)
        assert [r["amount"] for r in asyncio.run(refunds_at(stripe, payment))] == [300]
        # Planning over HTTP while the proxy's own loop serves.
        plan = {"kind": "refund_lookup", "fault": "status", "code": 404}
        assert client.post(f"{proxy.url}/_faults", json=plan).status_code == 201
        lookup = client.get(
            f"{proxy.url}/v1/refunds", params={"payment_intent": payment}, headers=auth_headers()
        )
        assert lookup.status_code == 404
        # A delayed effect still pending when the proxy stops happens before the stop returns.
        proxy.plan("refund_post", Fault.delay_effect(0.3))
        with pytest.raises(httpx.ReadTimeout):
            refund(client, 400)
    assert not [t for t in threading.enumerate() if t.name == "faulty-stripe"]
    assert sorted(r["amount"] for r in asyncio.run(refunds_at(stripe, payment))) == [300, 400]
    assert proxy.count("refund_post") == 2


async def test_thread_mode_takes_plans_from_any_thread_and_serves_concurrently(
    stripe: str, http: httpx.AsyncClient
) -> None:
    payment = await create_payment(stripe, 10_000, "usd", client=http)
    proxy = FaultyStripe(stripe).start_in_thread()
    try:
        planner = threading.Thread(
            target=proxy.plan, args=("refund_post", Fault.status(503)), kwargs={"times": 5}
        )
        planner.start()
        planner.join()
        answers = await asyncio.gather(*(send_refund(http, proxy.url, payment) for _ in range(8)))
        assert sorted(a.status_code for a in answers) == [200] * 3 + [503] * 5
        await proxy.settle()
        assert len(await refunds_at(stripe, payment, client=http)) == 3
    finally:
        await proxy.stop()
    assert proxy.count("refund_post", forwarded=None) == 8


async def test_shutdown_hangs_up_on_held_clients_and_leaves_nothing_running(
    stripe: str, http: httpx.AsyncClient
) -> None:
    payment = await create_payment(stripe, 3000, "usd", client=http)
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        proxy = FaultyStripe(stripe)
        async with proxy:
            proxy.plan("refund_post", Fault.lose_answer())
            proxy.plan("refund_post", Fault.drop_before())
            proxy.plan("refund_post", Fault.delay_effect(0.3))
            held = [
                asyncio.create_task(
                    client.post(
                        f"{proxy.url}/v1/refunds",
                        headers=auth_headers(),
                        data={"payment_intent": payment, "amount": str(amount)},
                    )
                )
                for amount in (100, 200, 300)
            ]
            await eventually(lambda: proxy.count("refund_post", forwarded=None) == 3, within=5)
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 3
        for outcome in await asyncio.gather(*held, return_exceptions=True):
            assert isinstance(outcome, httpx.RemoteProtocolError), outcome
    # The lost answer's refund and the delayed one happened; the dropped one never did.
    assert sorted(r["amount"] for r in await refunds_at(stripe, payment, client=http)) == [100, 300]
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_an_unreachable_provider_answers_502(http: httpx.AsyncClient) -> None:
    with nothing_listening() as dead:
        async with FaultyStripe(dead) as proxy:
            answer = await send_refund(http, proxy.url, "pi_nowhere")
    assert answer.status_code == 502
    assert answer.json()["error"]["type"] == "api_error"
    (post,) = proxy.log
    assert post.forwarded and post.upstream_status is None and post.error


async def test_refunds_at_reads_every_page(stripe: str, http: httpx.AsyncClient) -> None:
    payment = await create_payment(stripe, 10_000, "usd", client=http)
    async with httpx.AsyncClient(headers=auth_headers(), trust_env=False) as client:
        created: list[dict[str, Any]] = []
        for amount in range(1, 8):
            answer = await client.post(
                f"{stripe}/v1/refunds", data={"payment_intent": payment, "amount": str(amount)}
            )
            created.append(answer.json())
        paged = await refunds_at(stripe, payment, page_size=3, client=client)
    whole = await refunds_at(stripe, payment, client=http)
    assert sorted(r["id"] for r in paged) == sorted(r["id"] for r in created)
    assert [r["id"] for r in paged] == [r["id"] for r in whole]
    assert await refunds_at(stripe, await create_payment(stripe, 100, "usd", client=http)) == []
