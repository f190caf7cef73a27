"""Forward and forward + backward time of the fused op on one layer, without pytest:
quick A/B runs of a kernel change, and a loop long enough to profile (`perf record`).

Example (repository root): python -m benchmarks.time_layer --batch 16 --repeats 8
"""
from __future__ import annotations

import argparse
import time

import torch

from benchmarks.contenders import Problem, make_inputs, run_dyconv


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16, help="samples per call (default 16)")
    ap.add_argument("--channels", type=int, default=96, help="input and output channels (default 96)")
    ap.add_argument("--frames", type=int, default=248, help="time frames; 40 mel bands (default 248)")
    ap.add_argument("--dilation", type=int, default=4, help="dilation of the 3x3 kernel (default 4)")
    ap.add_argument("--repeats", type=int, default=8, help="timed calls after 2 warm-ups; the minimum is shown")
    ap.add_argument("--forward-only", action="store_true", help="time the forward pass alone")
    a = ap.parse_args(argv)

    p = Problem(a.batch, a.channels, a.channels, a.dilation, W=a.frames)
    inputs = make_inputs(p)
    grad_out = torch.randn(p.B, p.Cout, p.H, p.W, generator=torch.Generator().manual_seed(1))

    fwd, total = [], []
    for i in range(a.repeats + 2):
        t0 = time.perf_counter()
        out = run_dyconv(*inputs, p.dilation)
        t1 = time.perf_counter()
        if not a.forward_only:
            torch.autograd.grad(out, inputs, grad_out)
        t2 = time.perf_counter()
        if i >= 2:
            fwd.append(t1 - t0)
            total.append(t2 - t0)
    flops = p.conv_flops
    print(f"{p.label()}, {torch.get_num_threads()} threads, min of {a.repeats}:")
    print(f"  forward          {min(fwd) * 1e3:8.1f} ms  {flops / min(fwd) / 1e9:6.0f} GFLOP/s")
    if not a.forward_only:
        bwd = min(total) - min(fwd)
        print(f"  backward         {bwd * 1e3:8.1f} ms  {2 * flops / bwd / 1e9:6.0f} GFLOP/s")
        print(f"  forward+backward {min(total) * 1e3:8.1f} ms  {3 * flops / min(total) / 1e9:6.0f} GFLOP/s")


if __name__ == "__main__":
    main()
