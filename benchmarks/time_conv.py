"""Forward and forward + backward time of dyconv.dynamic_conv2d with CPU engines forced, against
the grouped idiom ``F.conv2d(x.reshape(1, B*C, H, W), w.reshape(B*Cout, C, 3, 3), groups=B)`` and
its backward, on one of the paper's layer shapes: the engines' A/B runs (the convolution alone;
benchmarks/time_layer.py times the fused op). Every contender runs once per round, alternating,
in one process and on the same inputs, so a load from other jobs hits them alike; the minimum
and the median over the rounds are shown, and each minimum against the grouped idiom's.

Example (repository root):
  python -m benchmarks.time_conv --engines winograd4 winograd --repeats 10
  python -m benchmarks.time_conv --channels 24 --out-channels 96 --dilation 2
  python -m benchmarks.time_conv --engines auto --dtypes float32 bfloat16 float16
  python -m benchmarks.time_conv --engines auto --dtypes float32 bfloat16 --formats contiguous channels_last
  python -m benchmarks.time_conv --engines auto no-amx --dtypes bfloat16 float32
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

if __package__ in (None, ""):  # run as a file (python benchmarks/time_conv.py): the repository root on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dyconv
from benchmarks.contenders import add_shape_args, cpu_engine


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shape_args(ap)
    ap.add_argument("--height", type=int, default=40, help="rows: mel bands (default 40)")
    ap.add_argument("--engines", nargs="+", default=["winograd4", "winograd"], metavar="ENGINE",
                    help="DYCONV_CPU_ENGINE values to time, 'auto' for the automatic choice, 'no-amx' for it with "
                         "the AMX bfloat16 kernels off (DYCONV_AMX=0) (default winograd4 winograd)")
    ap.add_argument("--dtypes", nargs="+", default=["float32"], choices=["float32", "bfloat16", "float16"],
                    help="dtypes of the inputs, each contender timed in each (default float32); the ratios are "
                         "against the grouped idiom in the first")
    ap.add_argument("--formats", nargs="+", default=["contiguous"], choices=["contiguous", "channels_last"],
                    help="memory formats of x and grad_out, each contender timed in each (default contiguous); the "
                         "ratios are against the grouped idiom in the first dtype and format")
    ap.add_argument("--repeats", type=int, default=8, help="timed rounds after one warm-up (default 8)")
    a = ap.parse_args(argv)

    B, C, H, W, d = a.batch, a.channels, a.height, a.frames, a.dilation
    Co = a.out_channels or C
    g = torch.Generator().manual_seed(0)
    x32 = torch.randn(B, C, H, W, generator=g)
    w32 = torch.randn(B, Co, C, 3, 3, generator=g) / (9 * C) ** 0.5
    grad32 = torch.randn(B, Co, H, W, generator=g)

    def problem(dtype, fmt):
        fmt = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
        return (x32.to(dtype).to(memory_format=fmt).requires_grad_(), w32.to(dtype).requires_grad_(),
                grad32.to(dtype).to(memory_format=fmt))

    def grouped(x, w):
        y = F.conv2d(x.reshape(1, B * C, H, W), w.reshape(B * Co, C, 3, 3), groups=B, dilation=d, padding=d)
        return y.reshape(B, Co, H, W)

    def per_sample(x, w):
        return dyconv.dynamic_conv2d(x, w, padding=d, dilation=d)

    contenders = {}  # name: (function, engine, (x, w, grad_out))
    def suffix(dt, fmt):
        return ("" if a.dtypes == ["float32"] else f" {dt}") + ("" if a.formats == ["contiguous"] else f" {fmt}")

    for dt in a.dtypes:
        for fmt in a.formats:
            inputs = problem(getattr(torch, dt), fmt)
            for e in a.engines:
                contenders[e + suffix(dt, fmt)] = (per_sample, None if e == "auto" else e, inputs)
            contenders["grouped" + suffix(dt, fmt)] = (grouped, None, inputs)
    times = {name: ([], []) for name in contenders}  # forward, forward + backward
    for i in range(a.repeats + 1):
        for name, (fn, engine, (x, w, grad_out)) in contenders.items():
            with cpu_engine(engine):
                t0 = time.perf_counter()
                y = fn(x, w)
                t1 = time.perf_counter()
                torch.autograd.grad(y, (x, w), grad_out)
                t2 = time.perf_counter()
            if i:
                times[name][0].append(t1 - t0)
                times[name][1].append(t2 - t0)
    print(f"B{B} {C}->{Co} d{d} {H}x{W} {', '.join(a.dtypes)}, {', '.join(a.formats)}, {torch.get_num_threads()} "
          f"threads, {a.repeats} rounds:")
    base = min(times["grouped" + suffix(a.dtypes[0], a.formats[0])][1])
    for name, (fwd, total) in times.items():
        median = sorted(total)[len(total) // 2]
        print(f"  {name:32s} forward {min(fwd) * 1e3:7.1f} ms  forward+backward {min(total) * 1e3:7.1f} ms "
              f"(median {median * 1e3:7.1f})  {base / min(total):5.2f}x the grouped idiom")

if __name__ == "__main__":
    main()
