"""Forward and forward + backward time of the fused op on one layer, without pytest:
quick A/B runs of a kernel change, and a loop long enough to profile (`perf record`).

Example: PYTHONPATH=. python benchmarks/time_layer.py --batch 16 --repeats 8
"""
from __future__ import annotations

import argparse
import time

import torch

import dyconv


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16, help="samples per call (default 16)")
    ap.add_argument("--channels", type=int, default=96, help="input and output channels (default 96)")
    ap.add_argument("--frames", type=int, default=248, help="time frames; 40 mel bands (default 248)")
    ap.add_argument("--dilation", type=int, default=4, help="dilation of the 3x3 kernel (default 4)")
    ap.add_argument("--repeats", type=int, default=8, help="timed calls after 2 warm-ups; the minimum is shown")
    ap.add_argument("--forward-only", action="store_true", help="time the forward pass alone")
    a = ap.parse_args(argv)

    g = torch.Generator().manual_seed(0)
    B, C = a.batch, a.channels
    x = torch.randn(B, C, 40, a.frames, generator=g).requires_grad_()
    w = (torch.randn(B, C, C, 3, 3, generator=g) * 0.03).requires_grad_()
    scale = torch.rand(B, C, generator=g).add(0.5).requires_grad_()
    shift = torch.randn(B, C, generator=g).requires_grad_()
    grad_out = torch.randn(B, C, 40, a.frames, generator=g)
    inputs = (x, w, scale, shift)

    def forward():
        return dyconv.dynamic_conv_norm_act(*inputs, padding="same", dilation=a.dilation)

    fwd, total = [], []
    for i in range(a.repeats + 2):
        t0 = time.perf_counter()
        out = forward()
        t1 = time.perf_counter()
        if not a.forward_only:
            torch.autograd.grad(out, inputs, grad_out)
        t2 = time.perf_counter()
        if i >= 2:
            fwd.append(t1 - t0)
            total.append(t2 - t0)
    flops = 2 * B * C * C * 9 * 40 * a.frames
    print(f"{B}x{C}->{C} d{a.dilation} 40x{a.frames}, {torch.get_num_threads()} threads, min of {a.repeats}:")
    print(f"  forward          {min(fwd) * 1e3:8.1f} ms  {flops / min(fwd) / 1e9:6.0f} GFLOP/s")
    if not a.forward_only:
        bwd = min(total) - min(fwd)
        print(f"  backward         {bwd * 1e3:8.1f} ms  {2 * flops / bwd / 1e9:6.0f} GFLOP/s")
        print(f"  forward+backward {min(total) * 1e3:8.1f} ms  {3 * flops / min(total) / 1e9:6.0f} GFLOP/s")


if __name__ == "__main__":
    main()
