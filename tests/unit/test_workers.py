"""The bounded worker pool behind every ack."""

from __future__ import annotations

import asyncio

from bot.workers import WorkQueue


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
