"""Scaling sweep of the 96->96 dilation-4 layer, forward + backward: batch, channels, frames."""
from __future__ import annotations

import pytest

from benchmarks.conftest import DEVICES, QUICK_W, SWEEP_ROUNDS, record_rate, sync_for
from benchmarks.contenders import CONTENDERS, Problem, make_inputs, make_pass


def sweep_problem(axis, value):
    B, C, T = 16, 96, 248
    if axis == "batch":
        B = value
    elif axis == "channels":
        C = value
    else:
        T = value
    return Problem(B, C, C, 4, H=40, W=T)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("contender", ["dyconv", "reference"])
def test_scaling(benchmark, checked, sweep_point, contender, device):
    axis, value = sweep_point
    p = sweep_problem(axis, value)
    c = CONTENDERS[contender]
    checked(c, Problem(2, p.Cin, p.Cout, p.dilation, W=QUICK_W), device)
    benchmark.group = f"sweep {axis} | {device}"
    benchmark.extra_info.update(
        kind="sweep", axis=axis, value=value, B=p.B, Cin=p.Cin, Cout=p.Cout, dilation=p.dilation,
        H=p.H, W=p.W, pass_name="fwd+bwd", contender=contender, device=device,
        flops=p.flops("fwd+bwd"),
    )
    run = make_pass(c, make_inputs(p, device=device), p.dilation, "fwd+bwd", sync_for(device))
    benchmark.pedantic(run, rounds=SWEEP_ROUNDS, warmup_rounds=1)
    record_rate(benchmark, p.flops("fwd+bwd"))
