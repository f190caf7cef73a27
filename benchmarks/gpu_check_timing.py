"""The timing part of the GPU check (benchmarks/gpu_check.py), run as its own process.

Times "cells": one contender on one of the paper's layers (benchmarks/contenders.py:
PAPER_LAYERS at 40 x 248, forward + backward) at one batch size and dtype, one
grouped row (benchmarks/gpu_check_grouped.py: users' depthwise and transposed
layers, dyconv vs cuDNN's grouped conv), or one training step of DSL (paper
config) with dyconv's op or the grouped-conv reference swapped in
(models.set_conv_norm_act). cuDNN autotuning on (cudnn.benchmark),
warm-up calls, then CUDA events around each timed call; the median is reported.
For every cell the process prints ``START <cell>`` and then ``RESULT <json>`` on
stdout, so the parent keeps every finished cell when a kernel crashes the process,
and starts a new process for the cells left.

    python -m benchmarks.gpu_check_timing --cells layer3/B64/float32/dyconv dsl-step/B64/float32/reference
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import torch
import torch.nn.functional as F

if __package__ in (None, ""):  # run as a file (python benchmarks/gpu_check_timing.py): the repository root on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import gpu_check_grouped as grouped
from benchmarks.contenders import CONTENDERS, PAPER_LAYERS, Problem, make_inputs, make_pass

LAYER_CONTENDERS = ("dense-conv2d-ceiling", "reference", "dyconv")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
BATCHES = (16, 64)
DSL_BATCH = 64


def plan_cells() -> list[str]:
    """Every cell of the check, in the order they run."""
    cells = [f"{layer}/B{b}/{dt}/{c}" for layer in PAPER_LAYERS for b in BATCHES for dt in DTYPES
             for c in LAYER_CONTENDERS]
    cells += [f"{name}/B{row.B}/{grouped.DTYPE}/{c}" for name, row in grouped.ROWS.items()
              for c in grouped.CONTENDERS]
    return cells + [f"dsl-step/B{DSL_BATCH}/float32/{v}" for v in ("dyconv", "reference")]


def parse_cell(cell: str) -> dict:
    what, batch, dtype, contender = cell.split("/")
    kind = "model" if what == "dsl-step" else "grouped" if what in grouped.ROWS else "layer"
    return dict(cell=cell, kind=kind, layer=what, batch=int(batch.removeprefix("B")), dtype=dtype,
                contender=contender)


def cuda_times(fn, repeats: int, warmup: int) -> list[float]:
    """Seconds of each of `repeats` calls of fn (after `warmup` calls), by CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
              for _ in range(repeats)]
    for start, end in events:
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return [start.elapsed_time(end) / 1e3 for start, end in events]


def _relative_diff(got, want) -> float:
    got, want = got.detach().double(), want.detach().double()
    return ((got - want).abs().max() / want.abs().max().clamp_min(1.0)).item()


def time_layer(spec: dict, repeats: int, warmup: int) -> dict:
    Cin, Cout, dilation = PAPER_LAYERS[spec["layer"]]
    p = Problem(spec["batch"], Cin, Cout, dilation)
    contender = CONTENDERS[spec["contender"]]
    inputs = make_inputs(p, DTYPES[spec["dtype"]], "cuda", shared_weight=contender.shared_weight)
    times = cuda_times(make_pass(contender, inputs, dilation, "fwd+bwd"), repeats, warmup)
    out = dict(flops=p.flops("fwd+bwd"), problem=p.label())
    if spec["contender"] == "dyconv":  # the timed op computes what the reference computes
        with torch.no_grad():
            got = CONTENDERS["dyconv"].fn(*inputs, dilation)
            want = CONTENDERS["reference"].fn(*inputs, dilation)
        out["max_rel_diff_vs_reference"] = _relative_diff(got, want)
    return dict(out, times_s=times)


def time_grouped(spec: dict, repeats: int, warmup: int) -> dict:
    row = grouped.ROWS[spec["layer"]]
    x, w, grad = grouped.make_inputs(row, DTYPES[spec["dtype"]], "cuda")
    times = cuda_times(grouped.make_pass(spec["contender"], row, x, w, grad), repeats, warmup)
    out = dict(flops=row.flops, problem=row.label())
    if spec["contender"] == "dyconv":  # the timed op computes what cuDNN's grouped conv computes
        with torch.no_grad():
            got = grouped.forward("dyconv", row, x, w)
            want = grouped.forward("reference", row, x, w)
        out["max_rel_diff_vs_reference"] = _relative_diff(got, want)
    return dict(out, times_s=times)


def time_dsl_step(spec: dict, repeats: int, warmup: int) -> dict:
    import models
    from dyconv import reference

    torch.manual_seed(0)
    model = models.build("dsl", "paper", n_mels=40).cuda().train()
    if spec["contender"] == "reference":
        models.set_conv_norm_act(model, reference.dynamic_conv_norm_act)
    opt = torch.optim.Adam(model.trainable_parameters(), lr=1e-3)
    x = torch.rand(spec["batch"], 1, 40, 248, device="cuda")
    y = torch.randint(0, 10, (spec["batch"],), device="cuda")

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return dict(times_s=cuda_times(step, repeats, warmup), problem="DSL paper config, 1x40x248 clips")


def run_cell(cell: str, repeats: int, warmup: int) -> dict:
    spec = parse_cell(cell)
    timed = dict(model=time_dsl_step, grouped=time_grouped, layer=time_layer)[spec["kind"]](spec, repeats, warmup)
    spec.update(timed, median_s=statistics.median(timed["times_s"]), repeats=repeats, warmup=warmup)
    if "flops" in spec:
        spec["tflops"] = spec["flops"] / spec["median_s"] / 1e12
    return spec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", nargs="+", default=None, help="cells to time (default: all, in plan order)")
    ap.add_argument("--repeats", type=int, default=25, help="timed calls per cell, median reported (default 25)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed calls first (cuDNN autotuning; default 3)")
    ap.add_argument("--tf32", action="store_true",
                    help="let cuDNN/cuBLAS use TF32 for float32 (default off: float32 means float32)")
    a = ap.parse_args(argv)
    unknown = sorted(set(a.cells or []) - set(plan_cells()))
    if unknown:
        ap.error(f"unknown cells {unknown}; cells look like {plan_cells()[0]} or {plan_cells()[-1]}")
    if not torch.cuda.is_available():
        print("gpu_check_timing: no CUDA device visible to torch", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    for cell in a.cells or plan_cells():
        print(f"START {cell}", flush=True)
        try:
            result = run_cell(cell, a.repeats, a.warmup)
        except Exception as e:  # a CUDA error leaves the context unusable: report it and stop
            print("RESULT " + json.dumps(dict(parse_cell(cell), error=f"{type(e).__name__}: {e}")), flush=True)
            return 3
        print("RESULT " + json.dumps(result), flush=True)
        torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
