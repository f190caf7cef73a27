"""Forward + backward time of the grouped idiom vs dyconv at users' shapes (docs/grouped_idiom.md).

    python docs/grouped_idiom_timing.py [--reps 5]

float32 CPU; per row the two (or three) contenders alternate in one process, each the minimum of
--reps calls after one warm-up; the weights are leaves that need gradients, as in training.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

if __package__ in (None, ""):  # run as a file (python docs/grouped_idiom_timing.py): the repository root on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dyconv
import dyconv.nn as dnn
from dyconv import reference


LAYERS = {}  # the dyconv.nn layers timed, to report their choices


def _once(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def fwd_bwd(f, *inputs):
    def run():
        y = f(*inputs)
        torch.autograd.grad(y.sum(), inputs)
    return run


def rows():
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g).requires_grad_()  # noqa: E731
    # name, (inputs), {contender: callable}
    x, w = r(4, 512, 36, 36), r(4, 512, 512, 3, 3)
    yield "StyleGAN3-T 512->512 3x3 36x36 (pad 2), B4", (x, w), {
        "grouped idiom": lambda x, w: reference.dynamic_conv2d(x, w, padding=2),
        "dyconv": lambda x, w: dyconv.dynamic_conv2d(x, w, padding=2)}
    mod = LAYERS["modulated"] = dnn.ModulatedConv2d(512, 512, 3, padding=2)
    s = r(4, 512)
    yield "  the whole modulated conv (modulate, demodulate, conv), B4", (x, s), {
        "grouped idiom": lambda x, s: reference.dynamic_conv2d(x, _modulated(mod, s), padding=2),
        "ModulatedConv2d auto": lambda x, s: mod(x, s)}
    x, w = r(4, 128, 64, 64), r(4, 128, 128, 3, 3)
    yield "StyleGAN2 up 128->128 3x3 64->129 (transposed, stride 2), B4", (x, w), {
        "grouped idiom": lambda x, w: reference.dynamic_conv_transpose2d(x, w, None, 2),
        "dyconv": lambda x, w: dyconv.dynamic_conv_transpose2d(x, w, None, 2)}
    x, w = r(64, 112, 14, 14), r(64, 672, 112, 1, 1)
    yield "CondConv pointwise 112->672 14x14, B64", (x, w), {
        "grouped idiom": lambda x, w: reference.dynamic_conv2d(x, w),
        "dyconv": lambda x, w: dyconv.dynamic_conv2d(x, w)}
    x, w = r(64, 672, 14, 14), r(64, 672, 1, 5, 5)
    yield "CondConv depthwise 672 k5 14x14, B64", (x, w), {
        "grouped idiom": lambda x, w: reference.dynamic_conv2d(x, w, padding=2, groups=672),
        "dyconv": lambda x, w: dyconv.dynamic_conv2d(x, w, padding=2, groups=672)}
    x, w = r(120, 40, 16, 125), r(120, 120, 40, 1, 1)
    yield "DyMN pointwise 40->120 16x125, B120", (x, w), {
        "grouped idiom": lambda x, w: reference.dynamic_conv2d(x, w),
        "dyconv": lambda x, w: dyconv.dynamic_conv2d(x, w)}
    x, w = r(120, 120, 16, 125), r(120, 120, 1, 3, 3)
    yield "DyMN depthwise 120 k3 dilation 2 16x125, B120", (x, w), {
        "grouped idiom": lambda x, w: reference.dynamic_conv2d(x, w, padding=2, dilation=2, groups=120),
        "dyconv": lambda x, w: dyconv.dynamic_conv2d(x, w, padding=2, dilation=2, groups=120)}


def _modulated(mod, s):
    w = mod.gain * mod.weight[None] * s[:, None, :, None, None]
    return w * torch.rsqrt(w.square().sum((2, 3, 4)) + mod.eps)[:, :, None, None, None]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, inputs, contenders in rows():
        runs = {k: fwd_bwd(f, *inputs) for k, f in contenders.items()}
        for run in runs.values():
            run()  # warm-up (and ModulatedConv2d's one-off path timing)
        best = {k: float("inf") for k in runs}
        for _ in range(args.reps):
            for k, run in runs.items():
                best[k] = min(best[k], _once(run))
        base = best["grouped idiom"]
        print(f"{name}: " + ", ".join(f"{k} {t * 1e3:.1f} ms ({base / t:.2f}x)" for k, t in best.items()))
        if "ModulatedConv2d auto" in contenders:
            print(f"  ModulatedConv2d chose: {LAYERS['modulated'].last_path}")


if __name__ == "__main__":
    main()
