"""One stage of the GPU check: a command run with its own time limit, its output in a file.

The command runs in its own process group, so a time limit ends everything it
started (pip's compilers, compute-sanitizer's target), and a stage that crashes
or hangs costs only its own limit. Nothing here raises for a failing command:
the outcome is data for the report.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Outcome:
    stage: str
    status: str          # "ok", "failed", "timeout", "skipped"
    seconds: float
    limit_s: float
    returncode: int | None = None
    note: str = ""
    command: list = field(default_factory=list)

    def as_dict(self):
        return asdict(self)


def _kill_group(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run(stage: str, command: list, limit_s: float, log: Path, env: dict | None = None,
        append: bool = False, cwd: Path | None = None) -> Outcome:
    """Runs `command` (stdout and stderr into `log`) for at most `limit_s` seconds."""
    start = time.monotonic()
    if limit_s <= 0:
        return Outcome(stage, "skipped", 0.0, limit_s, note="no time left", command=command)
    with open(log, "a" if append else "w") as out:
        out.write(f"$ {' '.join(map(str, command))}\n")
        out.flush()
        try:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                    start_new_session=True)
        except OSError as e:
            return Outcome(stage, "failed", time.monotonic() - start, limit_s, note=str(e),
                           command=command)
        try:
            rc = proc.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out.write(f"\n[gpu_check] {stage}: killed after its {limit_s:.0f} s limit\n")
            return Outcome(stage, "timeout", time.monotonic() - start, limit_s, proc.returncode,
                           f"killed after {limit_s:.0f} s", command)
    status = "ok" if rc == 0 else "failed"
    return Outcome(stage, status, time.monotonic() - start, limit_s, rc,
                   "" if rc == 0 else f"exit code {rc}", command)


class Budget:
    """Wall-clock budget of the whole check: each stage gets its own limit, cut so
    that the stages after it keep the minimum they were promised."""

    def __init__(self, total_s: float, clock=time.monotonic):
        self.clock = clock
        self.deadline = clock() + total_s

    def left(self) -> float:
        return self.deadline - self.clock()

    def limit(self, nominal_s: float, reserve_after_s: float) -> float:
        return max(0.0, min(nominal_s, self.left() - reserve_after_s))
