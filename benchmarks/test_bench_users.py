"""Per-sample convolutions at the shapes of PyTorch users outside the paper (issue 22):
dyconv against the grouped-conv idiom they run today, vmap of F.conv2d and their own
alternative where it applies (benchmarks/users.py), forward + backward, float32.
Quick mode (--benchmark-disable, CI): every contender once, on small versions of the rows."""
from __future__ import annotations

import pytest
import torch

from benchmarks.conftest import ROUNDS, record_rate
from benchmarks.users import CONTENDERS, ROWS, contenders_for, errors_vs_float64, make_pass

CASES = [(row, name) for row in ROWS for name in contenders_for(row)]


@pytest.mark.parametrize("row, contender", CASES, ids=[f"{r.name}-{n}" for r, n in CASES])
def test_users(benchmark, quick, row, contender):
    p = row.quick() if quick else row
    err = errors_vs_float64(row.quick(), contender)
    assert err < 1e-3, f"{contender} on {row.quick().label()}: {err:.2e} from the float64 reference"
    benchmark.group = f"users {row.name} {p.label()} | fwd+bwd | cpu"
    benchmark.extra_info.update(
        kind="users", row=row.name, label=p.label(), contender=contender, flops=p.flops,
        pass_name="fwd+bwd", device="cpu", max_rel_err_vs_float64=err,
    )
    run = make_pass(p, contender, CONTENDERS[contender].make(p, torch.float32, 0))
    benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=1)
    record_rate(benchmark, p.flops)
