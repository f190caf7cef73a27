"""Float32 error of each CPU engine of the convolution against float64, on the paper's
dynamic filter layers (40 mel bands), with --users also on the users' rows that the
Winograd engine runs (benchmarks/users.py: 3x3, stride 1), and on inputs with a large
dynamic range. The accuracy budget of docs/cpu_kernels.md is the first column: at most
1e-5 of the output's largest value.

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

Examples (repository root):
  python -m benchmarks.engine_error --batch 2 --frames 62
  python -m benchmarks.engine_error --batch 1 --users --engines winograd4 winograd shifted --dynamic-range 0
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

if __package__ in (None, ""):  # run as a file (python benchmarks/engine_error.py): the repository root on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import users
from benchmarks.contenders import PAPER_LAYERS, Problem, cpu_engine, make_inputs
import dyconv
from dyconv import reference

NAMES = ("output", "grad x", "grad weight", "output per element (99.9%)")


def errors(x, w, kw: dict, engine: str, dynamic_range: float, seed: int = 0) -> list[float]:
    """The four error columns of dynamic_conv2d(x, w, **kw) (x, w float64) with engine forced."""
    if dynamic_range:
        g = torch.Generator().manual_seed(seed + 1)
        x = x * 10 ** (dynamic_range * (torch.rand(x.shape, generator=g, dtype=torch.float64) - 0.5))
        w = w * 10 ** (dynamic_range * (torch.rand(w.shape, generator=g, dtype=torch.float64) - 0.5))
    exact = [t.detach().requires_grad_() for t in (x, w)]
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
    ap.add_argument("--engines", nargs="+", default=["winograd4", "winograd", "direct", "shifted", "reference"],
                    choices=["winograd4", "winograd", "direct", "shifted", "im2col", "reference"],
                    help="CPU engines to force, or reference: the grouped-conv reference in float32 "
                         "(default winograd4 winograd direct shifted reference)")
    ap.add_argument("--users", action="store_true",
                    help="also the users' 3x3 stride-1 rows (benchmarks/users.py), --batch samples each")
    ap.add_argument("--dynamic-range", type=float, nargs="+", default=[0.0, 6.0], metavar="R",
                    help="decades the inputs span, one row each (default 0: the suite's inputs, and 6)")
    a = ap.parse_args(argv)
    layers = {name: spec for name, spec in PAPER_LAYERS.items()}
    layers["layer2"] = (24, 96, 2)  # the paper's mask layers 2 and 4 (24 -> 96, dilation 2; 96 -> 96, dilation 8)
    layers["layer4"] = (96, 96, 8)
    print(f"max |float32 - float64| / max |float64|, batch {a.batch}, 40x{a.frames}; "
          f"columns: {', '.join(NAMES)}")
    problems = []  # (label, x, w, conv kwargs)
    for name, (cin, cout, d) in sorted(layers.items()):
        x, w = make_inputs(Problem(a.batch, cin, cout, d, W=a.frames), torch.float64)[:2]
        problems.append((f"{name} {cin}->{cout} d{d}", x, w, dict(padding="same", dilation=d)))
    for row in users.ROWS if a.users else []:
        if row.k == 3 and row.stride == 1 and row.groups == 1 and row.dims == 2 and not row.transposed:
            g = torch.Generator().manual_seed(0)
            x = torch.randn(a.batch, row.Cin, row.H, row.W, generator=g, dtype=torch.float64)
            w = torch.randn(a.batch, row.Cout, row.Cin, 3, 3, generator=g, dtype=torch.float64) / (9 * row.Cin) ** 0.5
            problems.append((f"{row.name} {row.Cin}->{row.Cout} {row.H}x{row.W}", x, w,
                             dict(padding=row.padding, dilation=row.dilation)))
    for label, x, w, kw in problems:
        for r in a.dynamic_range:
            for engine in a.engines:
                errs = errors(x, w, kw, engine, r)
                print(f"{label}  range 1e{r:g}  {engine:9s} " + "  ".join(f"{e:8.1e}" for e in errs), flush=True)


if __name__ == "__main__":
    main()
