"""Suite-wide settings: quick mode, devices, rounds, and the once-per-session checks."""
from __future__ import annotations

import os

import pytest
import torch

from benchmarks.contenders import check_against_float64
from training.engine.memory import allocator_in_use

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
# Rounds per benchmark (after one warm-up round): a compromise between noise on a
# loaded 2-core machine and a full run that fits in a few minutes.
# DYCONV_BENCH_ROUNDS overrides both (e.g. to rerun a few noisy rows with more rounds).
ROUNDS = int(os.environ.get("DYCONV_BENCH_ROUNDS", 3))
SWEEP_ROUNDS = int(os.environ.get("DYCONV_BENCH_ROUNDS", 3))


def pytest_benchmark_update_machine_info(config, machine_info):
    # The reference's times depend on it (benchmarks/RESULTS.md, "The allocator").
    machine_info["allocator"] = allocator_in_use()


def quick_mode(config) -> bool:
    """Small shapes unless --benchmark-only (the full run) is given: so a plain `pytest`
    from the repository root stays quick, and --benchmark-disable (CI) runs each
    benchmark, and its correctness check, once."""
    return bool(config.getoption("benchmark_disable", False)) or not config.getoption(
        "benchmark_only", False)


@pytest.fixture(scope="session")
def quick(pytestconfig):
    return quick_mode(pytestconfig)


_checked: dict = {}


@pytest.fixture(scope="session")
def checked():
    """check(contender, problem, device): the float64 check, run once per key."""

    def check(contender, problem, device):
        key = (contender.name, problem, device)
        if key not in _checked:
            try:
                _checked[key] = check_against_float64(contender, problem, device)
            except AssertionError as e:
                _checked[key] = e
        if isinstance(_checked[key], AssertionError):
            pytest.fail(str(_checked[key]))
        return _checked[key]

    return check


def sync_for(device):
    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def record_rate(benchmark, flops):
    """Median time and GFLOP/s into extra_info once the benchmark has run (not when disabled)."""
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    if stats is not None and stats.median > 0:
        benchmark.extra_info["median_s"] = stats.median
        benchmark.extra_info["gflops"] = flops / stats.median / 1e9


# Shapes: the paper's (batch 16 and 64 at 40x248), or small ones in quick mode.
PAPER_BATCHES, QUICK_BATCHES = [16, 64], [2]
PAPER_W, QUICK_W = 248, 62
SWEEP = {  # 96->96 dilation-4 layer; one axis varies, the others stay at B=16, C=96, T=248
    "batch": [1, 2, 4, 8, 16, 32, 64],
    "channels": [16, 32, 64, 96, 128],
    "frames": [62, 124, 248, 496, 992],
}
QUICK_SWEEP = {"batch": [1, 3], "channels": [16], "frames": [62]}


def pytest_generate_tests(metafunc):
    quick = quick_mode(metafunc.config)
    if "batch" in metafunc.fixturenames:
        metafunc.parametrize("batch", QUICK_BATCHES if quick else PAPER_BATCHES)
    if "sweep_point" in metafunc.fixturenames:
        sweep = QUICK_SWEEP if quick else SWEEP
        points = [(axis, v) for axis, values in sweep.items() for v in values]
        metafunc.parametrize("sweep_point", points, ids=[f"{a}{v}" for a, v in points])
