"""The GPU check's grouped rows (benchmarks/gpu_check_grouped.py) without a GPU: the rows are
the layers they name, their FLOPs are worked out by hand, and both contenders' passes compute
the same forward and gradients on CPU, small (the same code the GPU check times on cuDNN)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from benchmarks.gpu_check_grouped import ROWS, forward, make_inputs, make_pass
from benchmarks.gpu_check_timing import parse_cell, plan_cells


def test_rows_are_the_named_layers_and_their_flops():
    cond, dymn, up = ROWS["condconv-dw-k5"], ROWS["dymn-dw-k3d2"], ROWS["stylegan2-up-s2"]
    assert (cond.B, cond.Cin, cond.groups, cond.k, cond.H, cond.W) == (64, 672, 672, 5, 14, 14)
    assert (dymn.B, dymn.groups, dymn.k, dymn.dilation, dymn.H, dymn.W) == (120, 120, 3, 2, 16, 125)
    assert up.transposed and (up.B, up.Cin, up.Cout, up.stride) == (4, 128, 128, 2)
    # 3 passes x 2 flops x B x (Cout x Cin / groups) x k^2 x output pixels ("same" padding)
    assert cond.flops == 3 * 2 * 64 * 672 * 25 * 14 * 14
    assert dymn.flops == 3 * 2 * 120 * 120 * 9 * 16 * 125
    # transposed: the multiply-adds of the conv it transposes, one per input pixel and tap
    assert up.flops == 3 * 2 * 4 * 128 * 128 * 9 * 128 * 128


def test_cells_of_the_grouped_rows():
    cells = [parse_cell(c) for c in plan_cells() if c.split("/")[0] in ROWS]
    assert len(cells) == 2 * len(ROWS) and {c["kind"] for c in cells} == {"grouped"}
    assert {(c["layer"], c["batch"], c["contender"]) for c in cells} == {
        (name, row.B, who) for name, row in ROWS.items() for who in ("dyconv", "reference")}


@pytest.mark.parametrize("name", ROWS)
def test_both_contenders_compute_the_same_on_a_small_copy(name):
    row = ROWS[name]
    small = dataclasses.replace(row, B=2, H=min(row.H, 6), W=min(row.W, 7),
                                Cin=min(row.Cin, 6), Cout=min(row.Cout, 6),
                                groups=min(row.groups, 6))
    x, w, grad = make_inputs(small, torch.float64, "cpu")
    outs = {c: forward(c, small, x, w) for c in ("dyconv", "reference")}
    torch.testing.assert_close(outs["dyconv"], outs["reference"])
    grads = {}
    for c in ("dyconv", "reference"):
        make_pass(c, small, x, w, grad)()  # runs without error
        grads[c] = torch.autograd.grad(forward(c, small, x, w), (x, w), grad)
    for a, b in zip(grads["dyconv"], grads["reference"]):
        torch.testing.assert_close(a, b)
