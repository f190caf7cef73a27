"""Runs a study's plan: up to ``jobs`` train.py processes at once, one thread each, resumable at any moment.

- A run whose part finished is skipped; one that an earlier attempt started continues with ``--resume`` from its
  last checkpoint (train.py's own resume: the same result as an uninterrupted run).
- Each running run holds an exclusive lock (``<out>/locks/<method>-seed<seed>.lock``), inherited by its train.py
  process. When the study is killed (``kill -9``) its train.py processes go on; a new study command waits for them
  instead of starting the same run twice, and a rerun after they too were killed resumes them.
- A failed run (non-zero exit) is reported with its log; the runs that wait on it are not started, the others go on.
"""
from __future__ import annotations

import fcntl
import os
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from training.engine.log import Log, duration
from training.study.plan import RELATIVE_COST, ROOT, StudyRun, priority

POLL_S = 2.0
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass
class _Running:
    run: StudyRun
    process: subprocess.Popen | None  # None: running in another study process (its lock is held)
    lock: int | None  # our lock's file descriptor
    since: float = field(default_factory=time.monotonic)


@dataclass
class Outcome:
    done: list[StudyRun]
    failed: list[tuple[StudyRun, int]]  # (run, exit code)
    blocked: list[StudyRun]  # waiting on a failed run


def _lock_path(run: StudyRun) -> Path:
    return run.folder.parent.parent / "locks" / f"{run.method}-seed{run.seed}.lock"


def _try_lock(run: StudyRun) -> int | None:
    """An exclusive lock on the run, or None when another process holds it."""
    path = _lock_path(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _start(run: StudyRun, lock: int, log: Log, threads: int) -> subprocess.Popen:
    run.log.parent.mkdir(parents=True, exist_ok=True)
    command = run.command()
    env = {**os.environ, **{v: str(threads) for v in THREAD_VARIABLES}}
    with open(run.log, "ab") as f:
        f.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, pass_fds=(lock,))
    resumed = " (resumed)" if "--resume" in command else ""
    log(f"started {run.name}{resumed}; log: {run.log}")
    return process


class _Estimate:
    """Time left: each method's mean wall time over the runs that finished (before or during this study), or,
    for a method with none yet, its relative cost scaled like the measured ones; nothing before any finished."""

    def __init__(self, runs: list[StudyRun], jobs: int):
        self.runs, self.jobs = runs, jobs

    def left(self, pending: list[StudyRun], running: list[_Running]) -> float | None:
        measured: dict[str, list[float]] = {}
        for r in self.runs:
            m = r.minutes() if r.state() == "done" else None
            if m is not None:
                measured.setdefault(r.method, []).append(m)
        if not measured:
            return None
        mean = {k: statistics.fmean(v) for k, v in measured.items()}
        scale = statistics.fmean(mean[k] / RELATIVE_COST[k] for k in mean)
        minutes = lambda r: mean.get(r.method, RELATIVE_COST[r.method] * scale)  # noqa: E731
        work = sum(minutes(r) for r in pending)
        work += sum(max(minutes(x.run) - (time.monotonic() - x.since) / 60, 0) for x in running)
        return 60 * work / self.jobs


def execute(runs: list[StudyRun], jobs: int, log: Log, threads: int = 1) -> Outcome:
    """Run every run of ``runs`` that is not done, at most ``jobs`` at a time, dependencies first."""
    by_name = {r.name: r for r in runs}
    done = {r.name for r in runs if r.state() == "done"}
    pending = [r for r in runs if r.name not in done]
    running: list[_Running] = []
    failed: list[tuple[StudyRun, int]] = []
    estimate = _Estimate(runs, jobs)
    seeds = list(dict.fromkeys(r.seed for r in runs))
    order = {r.name: (seeds.index(r.seed), -priority(r, runs)) for r in runs}
    for r in list(pending):  # left running by a study that was killed: they take a job each until they end
        lock = _try_lock(r)
        if lock is None:
            pending.remove(r)
            running.append(_elsewhere(r, log))
        else:
            os.close(lock)
    bar = log.bar(total=len(runs), initial=len(done), desc="study", unit="run")
    try:
        while pending or running:
            for x in list(running):
                code = _finished(x)
                if code is None:
                    continue
                running.remove(x)
                if code == 0 and x.run.state() == "done":
                    done.add(x.run.name)
                    bar.update(1)
                    log(f"finished {x.run.name} in {duration(time.monotonic() - x.since)}")
                elif x.process is None:  # the other process ended without finishing it: continue it here
                    pending.append(x.run)
                else:
                    failed.append((x.run, code))
                    log(f"FAILED {x.run.name} (exit {code}); log: {x.run.log}")
            failed_names = {r.name for r, _ in failed}
            blocked = [r for r in pending if _waits_on(r, failed_names, by_name)]
            ready = sorted((r for r in pending if r not in blocked and all(a in done for a in r.after)),
                           key=lambda r: order[r.name])
            for r in ready:
                if len(running) >= jobs:
                    break
                lock = _try_lock(r)
                pending.remove(r)
                if lock is None:
                    running.append(_elsewhere(r, log))
                elif r.state() == "done":  # finished by another process meanwhile
                    os.close(lock)
                    done.add(r.name)
                    bar.update(1)
                else:
                    running.append(_Running(r, _start(r, lock, log, threads), lock))
            if not running and not ready:
                break  # what is left waits on failed runs
            left = estimate.left([r for r in pending if r not in blocked], running)
            bar.set_postfix_str(f"running {', '.join(x.run.name for x in running) or '-'}"
                                + ("" if left is None else f"; ~{duration(left)} left"), refresh=True)
            time.sleep(POLL_S)
    finally:
        bar.close()
        for x in running:  # interrupted (Ctrl-C reaches the runs too): let them save, then release their locks
            if x.process is not None:
                x.process.wait()
                os.close(x.lock)
    failed_names = {r.name for r, _ in failed}
    return Outcome([r for r in runs if r.name in done], failed,
                   [r for r in runs if r.name not in done and r.name not in failed_names])


def _elsewhere(run: StudyRun, log: Log) -> _Running:
    """A run whose lock another process holds: waited for like one of ours."""
    log(f"{run.name} is running in another process (its lock is held); waiting for it")
    return _Running(run, None, None)


def _waits_on(run: StudyRun, names: set[str], by_name: dict[str, StudyRun]) -> bool:
    """Whether ``run`` depends, directly or through other runs, on one of ``names``."""
    return any(a in names or _waits_on(by_name[a], names, by_name) for a in run.after)


def _finished(x: _Running) -> int | None:
    """The exit code of a run that ended, else None. A run of another process ends when its lock is free."""
    if x.process is not None:
        code = x.process.poll()
        if code is not None:
            os.close(x.lock)
        return code
    lock = _try_lock(x.run)
    if lock is None:
        return None
    os.close(lock)
    return 0
