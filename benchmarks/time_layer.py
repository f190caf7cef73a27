"""Forward and forward + backward time of the fused op on one layer, without pytest:
quick A/B runs of a kernel change, and a loop long enough to profile (`perf record`).
With several contenders, their calls alternate within each round (one process, the same
inputs), so a load from other jobs hits them alike.

Examples (repository root):
  python -m benchmarks.time_layer --batch 16 --repeats 8
  python -m benchmarks.time_layer --batch 64 --contenders dyconv-winograd dyconv-shifted reference
  python -m benchmarks.time_layer --bfloat16 --contenders dyconv dyconv-no-amx reference
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

if __package__ in (None, ""):  # run as a file (python benchmarks/time_layer.py): the repository root on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.contenders import CONTENDERS, Contender, Problem, add_shape_args, cpu_engine, make_inputs, run_dyconv
from training.engine.memory import allocator_in_use


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shape_args(ap)
    ap.add_argument("--repeats", type=int, default=8, help="timed calls after 2 warm-ups; the minimum is shown")
    ap.add_argument("--forward-only", action="store_true", help="time the forward pass alone")
    dtypes = ap.add_mutually_exclusive_group()
    dtypes.add_argument("--float64", action="store_true", help="float64 inputs (default float32)")
    dtypes.add_argument("--bfloat16", action="store_true",
                        help="bfloat16 inputs (default float32): on AMX CPUs the AMX kernels, which the contender "
                             "dyconv-no-amx turns off")
    # dyconv-no-amx is timed here only (in float32 it is dyconv: not a row of the pytest suite).
    contenders = {**CONTENDERS, "dyconv-no-amx": Contender("dyconv-no-amx", run_dyconv, cpu_engine="no-amx")}
    names = [n for n, c in contenders.items() if not c.shared_weight]
    ap.add_argument("--contenders", nargs="+", default=["dyconv"], choices=names, metavar="NAME",
                    help=f"what to time, alternating: {', '.join(names)} (default dyconv; "
                         "dyconv-<engine>: that CPU engine forced)")
    a = ap.parse_args(argv)

    p = Problem(a.batch, a.channels, a.out_channels or a.channels, a.dilation, W=a.frames)
    dtype = torch.float64 if a.float64 else torch.bfloat16 if a.bfloat16 else torch.float32
    inputs = make_inputs(p, dtype=dtype)
    grad_out = torch.randn(p.B, p.Cout, p.H, p.W, generator=torch.Generator().manual_seed(1), dtype=dtype)

    fwd = {n: [] for n in a.contenders}
    total = {n: [] for n in a.contenders}
    for i in range(a.repeats + 2):
        for name in a.contenders:
            c = contenders[name]
            with cpu_engine(c.cpu_engine):
                t0 = time.perf_counter()
                out = c.fn(*inputs, p.dilation)
                t1 = time.perf_counter()
                if not a.forward_only:
                    torch.autograd.grad(out, inputs, grad_out)
                t2 = time.perf_counter()
            if i >= 2:
                fwd[name].append(t1 - t0)
                total[name].append(t2 - t0)
    flops = p.conv_flops
    print(f"{p.label()} {str(dtype).replace('torch.', '')}, {torch.get_num_threads()} threads, "
          f"{allocator_in_use()}, min of {a.repeats}:")
    ref = min(total["reference"]) if "reference" in total else None
    for name in a.contenders:
        f, t = min(fwd[name]), min(total[name])
        print(f"  {name}:")
        print(f"    forward          {f * 1e3:8.1f} ms  {flops / f / 1e9:6.0f} GFLOP/s")
        if not a.forward_only:
            bwd = t - f
            vs = f"  {ref / t:5.2f}x the reference" if ref and name != "reference" else ""
            print(f"    backward         {bwd * 1e3:8.1f} ms  {2 * flops / bwd / 1e9:6.0f} GFLOP/s")
            print(f"    forward+backward {t * 1e3:8.1f} ms  {3 * flops / t / 1e9:6.0f} GFLOP/s{vs}")


if __name__ == "__main__":
    main()
