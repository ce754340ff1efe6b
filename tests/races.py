"""One race runner for every concurrency test: jobs released at once by a barrier, in threads (each its
own app context, session and connection) or in spawned OS processes (each its own app and engine).
Every wait is bounded, so a deadlock fails the test instead of hanging it. The jobs are the actions
of :mod:`tests._concurrency_worker`.
"""

import multiprocessing
import os
import queue
import threading
import time

import pytest

from ._concurrency_worker import attempt, run_in_process

#: seconds before a worker that has not finished counts as stuck (deadlock, lost wake-up)
TIMEOUT = 120
#: the ways a race runs: threads on both databases; processes on PostgreSQL (separate server sessions)
HOW = [
    pytest.param("threads", id="threads"),
    pytest.param("processes", id="processes", marks=pytest.mark.postgresql_only),
]

#: one worker's job: the action of tests/_concurrency_worker.py and its arguments
Job = tuple[str, tuple]


def race_in_threads(app, jobs: list[Job]) -> list[tuple[str, str | None]]:
    """Run each job in its own thread, all released at once; the outcomes in the jobs' order."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list = [None] * len(jobs)

    def work(slot, action, args):
        outcomes[slot] = attempt(app, barrier, action, *args)

    threads = [
        threading.Thread(target=work, args=(slot, action, args), daemon=True)
        for slot, (action, args) in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + TIMEOUT
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0.1))
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, f"{stuck} of {len(jobs)} workers still running after {TIMEOUT}s: deadlock?"
    return outcomes


def race_in_processes(db_url: str, jobs: list[Job]) -> list[tuple[str, str | None]]:
    """Run each job in its own spawned process, all released at once; the outcomes in the jobs' order."""
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(len(jobs)), spawn.Queue()
    instance = os.environ["POINTSMART_INSTANCE"]  # this test's tmp dir (the make_app fixture sets it)
    processes = [
        spawn.Process(
            target=run_in_process, daemon=True, args=(db_url, instance, barrier, results, action, *args)
        )
        for action, args in jobs
    ]
    for process in processes:
        process.start()
    slot_of = {process.pid: slot for slot, process in enumerate(processes)}
    deadline = time.monotonic() + TIMEOUT
    outcomes: list = [None] * len(jobs)
    reported = 0
    try:
        while reported < len(jobs):
            try:
                pid, code, message = results.get(timeout=1)
            except queue.Empty:
                if time.monotonic() > deadline:
                    pytest.fail(f"only {reported} of {len(jobs)} processes reported within {TIMEOUT}s")
                if not any(process.is_alive() for process in processes) and results.empty():
                    pytest.fail(
                        f"processes died without reporting: exit codes {[p.exitcode for p in processes]}"
                    )
                continue
            outcomes[slot_of[pid]] = (code, message)
            reported += 1
    finally:
        for process in processes:
            process.join(timeout=max(deadline - time.monotonic(), 5))
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
    assert [p.exitcode for p in processes] == [0] * len(jobs)
    return outcomes


def race(how: str, app, db_url: str, jobs: list[Job]):
    return race_in_threads(app, jobs) if how == "threads" else race_in_processes(db_url, jobs)
