"""The paper's dynamic filter layers and the small model's widest: every contender, every
pass, batch 16 and 64."""
from __future__ import annotations

import pytest

from benchmarks.conftest import DEVICES, PAPER_W, QUICK_W, ROUNDS, record_rate, sync_for
from benchmarks.contenders import CONTENDERS, LAYERS, PASSES, Problem, make_inputs, make_pass
from benchmarks.peak_memory import peak_memory

MEMORY_CONTENDERS = ("dyconv", "reference")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("contender", list(CONTENDERS))
@pytest.mark.parametrize("pass_name", PASSES)
@pytest.mark.parametrize("layer", list(LAYERS))
def test_layer(benchmark, checked, quick, layer, batch, pass_name, contender, device):
    Cin, Cout, d = LAYERS[layer]
    c = CONTENDERS[contender]
    if c.cpu_engine and device != "cpu":
        pytest.skip("a forced CPU engine: the CUDA kernels have one")
    W = QUICK_W if quick else PAPER_W
    p = Problem(batch, Cin, Cout, d, W=W)
    err = checked(c, Problem(2, Cin, Cout, d, W=QUICK_W), device)
    benchmark.group = f"{layer} {Cin}->{Cout} d{d} B{batch} 40x{W} | {pass_name} | {device}"
    benchmark.extra_info.update(
        kind="layer", layer=layer, B=batch, Cin=Cin, Cout=Cout, dilation=d, H=p.H, W=W,
        pass_name=pass_name, contender=contender, device=device, flops=p.flops(pass_name),
        max_rel_err_vs_float64=err,
    )
    if pass_name == "fwd+bwd" and contender in MEMORY_CONTENDERS:
        benchmark.extra_info["peak_mem_bytes"] = peak_memory(contender, p, device, repeats=1 if quick else 3)
    run = make_pass(c, make_inputs(p, device=device, shared_weight=c.shared_weight), d, pass_name,
                    sync_for(device))
    benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=1)
    record_rate(benchmark, p.flops(pass_name))
