"""Float32 error of each CPU engine of the convolution against float64, on the paper's
dynamic filter layers (40 mel bands) and on inputs with a large dynamic range.

For each engine forced with DYCONV_CPU_ENGINE (and the grouped-conv reference run in
float32, for scale), dyconv.dynamic_conv2d and its gradients: max |float32 - float64| /
max |float64| of the output, grad x and grad weight (the measure of the op's tests), and
the 99.9th percentile over output elements of |float32 - float64| / |float64| (each
element against its own size: Winograd's rounding is relative to the larger values of
its tile). Inputs: the suite's (benchmarks.contenders.make_inputs), or with
--dynamic-range R every element of x and of the weights also scaled by 10**u, u uniform
in [-R/2, R/2]. The convolution, not the fused op: after a ReLU, a float32 rounding
that flips the sign of one activation input changes that element's gradient by O(1),
whatever the engine (one flip in 1.9 million moved grad x by 5e-2 of its largest value
in a test of the fused layer 3 with R = 6).

Example (repository root): python -m benchmarks.engine_error --batch 2 --frames 62
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

if __package__ in (None, ""):  # run as a file (python benchmarks/engine_error.py): the repository root on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.contenders import PAPER_LAYERS, Problem, cpu_engine, make_inputs
import dyconv
from dyconv import reference

NAMES = ("output", "grad x", "grad weight", "output per element (99.9%)")


def errors(p: Problem, engine: str, dynamic_range: float, seed: int = 0) -> list[float]:
    x, w = (t.detach().double() for t in make_inputs(p, torch.float64, seed=seed)[:2])
    if dynamic_range:
        g = torch.Generator().manual_seed(seed + 1)
        x = x * 10 ** (dynamic_range * (torch.rand(x.shape, generator=g, dtype=torch.float64) - 0.5))
        w = w * 10 ** (dynamic_range * (torch.rand(w.shape, generator=g, dtype=torch.float64) - 0.5))
    exact = [t.requires_grad_() for t in (x, w)]
    kw = dict(padding="same", dilation=p.dilation)
    want = reference.dynamic_conv2d(*exact, **kw)
    grad = torch.randn(want.shape, generator=torch.Generator().manual_seed(seed + 2), dtype=torch.float64)
    expected = (want, *torch.autograd.grad(want, exact, grad))
    single = [t.detach().float().requires_grad_() for t in exact]
    fn = reference.dynamic_conv2d if engine == "reference" else dyconv.dynamic_conv2d
    with cpu_engine(None if engine == "reference" else engine):
        out = fn(*single, **kw)
        got = (out, *torch.autograd.grad(out, single, grad.float()))
    errs = [((a.double() - b).abs().max() / b.abs().max()).item() for a, b in zip(got, expected)]
    rel = ((got[0].double() - want).abs() / want.abs()).flatten()
    return errs + [rel.kthvalue(max(1, int(0.999 * rel.numel()))).values.item()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=2, help="samples (default 2)")
    ap.add_argument("--frames", type=int, default=62, help="time frames (default 62)")
    ap.add_argument("--engines", nargs="+", default=["winograd", "direct", "shifted", "reference"],
                    choices=["winograd", "direct", "shifted", "im2col", "reference"],
                    help="CPU engines to force, or reference: the grouped-conv reference in float32 "
                         "(default winograd direct shifted reference)")
    ap.add_argument("--dynamic-range", type=float, nargs="+", default=[0.0, 6.0], metavar="R",
                    help="decades the inputs span, one row each (default 0: the suite's inputs, and 6)")
    a = ap.parse_args(argv)
    layers = {name: spec for name, spec in PAPER_LAYERS.items()}
    layers["layer2"] = (24, 96, 2)  # the paper's mask layer 2 (24 -> 96, dilation 2)
    print(f"max |float32 - float64| / max |float64|, batch {a.batch}, 40x{a.frames}; "
          f"columns: {', '.join(NAMES)}")
    for name, (cin, cout, d) in sorted(layers.items()):
        p = Problem(a.batch, cin, cout, d, W=a.frames)
        for r in a.dynamic_range:
            for engine in a.engines:
                errs = errors(p, engine, r)
                print(f"{name} {cin}->{cout} d{d}  range 1e{r:g}  {engine:9s} "
                      + "  ".join(f"{e:8.1e}" for e in errs))


if __name__ == "__main__":
    main()
