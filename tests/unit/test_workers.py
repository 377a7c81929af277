"""The bounded worker pool behind every ack."""

from __future__ import annotations

import asyncio

from bot.workers import AckGate, WorkQueue


async def test_at_most_n_jobs_run_at_once_and_all_finish() -> None:
    queue = WorkQueue(3)
    queue.start()
    running = peak = done = 0

    async def job() -> None:
        nonlocal running, peak, done
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        done += 1

    for _ in range(20):
        queue.submit(job)
    await queue.join()
    await queue.stop()
    assert (peak, done) == (3, 20)


async def test_a_failing_job_does_not_stop_the_others() -> None:
    queue = WorkQueue(1)
    queue.start()
    finished: list[int] = []

    async def boom() -> None:
        raise RuntimeError("boom")

    async def ok() -> None:
        finished.append(1)

    queue.submit(boom)
    queue.submit(ok)
    await queue.join()
    await queue.stop()
    assert finished == [1]


async def test_submit_returns_before_the_job_runs() -> None:
    queue = WorkQueue(1)
    queue.start()
    gate = asyncio.Event()
    queue.submit(gate.wait)
    assert not gate.is_set()  # submit did not wait for the job
    gate.set()
    await queue.join()
    await queue.stop()


async def test_new_jobs_wait_while_acks_are_pending() -> None:
    gate = AckGate(settle=0.01)
    queue = WorkQueue(2, gate=gate, patience=5)
    queue.start()
    started = asyncio.Event()

    async def job() -> None:
        started.set()

    gate.enter()  # a Slack request is waiting for its ack
    queue.submit(job)
    for _ in range(5):
        await asyncio.sleep(0.01)
    assert not started.is_set()
    gate.leave()
    await asyncio.wait_for(started.wait(), 2)
    await queue.stop()


async def test_work_is_never_starved_by_a_steady_stream_of_requests() -> None:
    gate = AckGate(settle=0.01)
    queue = WorkQueue(1, gate=gate, patience=0.05)
    queue.start()
    done = asyncio.Event()

    async def job() -> None:
        done.set()

    gate.enter()  # never leaves: the patience bound must still let the job run
    queue.submit(job)
    await asyncio.wait_for(done.wait(), 2)
    gate.leave()
    await queue.stop()


async def test_stop_waits_for_jobs_then_cancels_what_overruns_the_drain() -> None:
    queue = WorkQueue(2)
    queue.start()
    finished: list[str] = []
    forever = asyncio.Event()

    async def quick() -> None:
        await asyncio.sleep(0.01)
        finished.append("quick")

    async def stuck() -> None:
        await forever.wait()
        finished.append("stuck")

    queue.submit(quick)
    queue.submit(stuck)
    queue.submit(stuck)
    queue.submit(quick)  # still queued behind the stuck ones when the drain ends
    await queue.stop(drain_timeout=0.2)
    assert finished == ["quick"]
    assert queue._tasks == []
