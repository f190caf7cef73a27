"""The GPU check's grouped rows: users' depthwise and transposed layers, dyconv vs cuDNN.

Three of the users' rows (benchmarks/users.py), forward + backward in float32, timed with
dyconv's op and with the grouped idiom, which runs the whole batch as one grouped
``F.conv2d`` / ``F.conv_transpose2d`` with B * groups groups on cuDNN:

  condconv-dw-k5   CondConv (EfficientNet-B0's 672-channel depthwise 5x5 at 14x14), batch 64
  dymn-dw-k3d2     DyMN's depthwise 3x3, dilation 2, on 16 x 125 spectrogram features, batch 120
  stylegan2-up-s2  StyleGAN2's modulated up-sampling conv, transposed 3x3 stride 2,
                   128 -> 128 channels, 128x128 -> 256x256, batch 4
"""
from __future__ import annotations

import torch

from benchmarks import users

# the GPU check's cell name -> the users' row it times
_NAMES = {"condconv-dw-k5": "condconv-dw", "dymn-dw-k3d2": "dymn-dw", "stylegan2-up-s2": "stylegan2-up"}
ROWS = {cell: next(r for r in users.ROWS if r.name == name) for cell, name in _NAMES.items()}
CONTENDERS = ("reference", "dyconv")
DTYPE = "float32"


def make_inputs(row: users.Row, dtype, device, seed=0):
    """x and weight (both requiring grad, on ``device``) and a fixed output gradient."""
    x, w = (t.detach().to(device).requires_grad_() for t in users.CONTENDERS["dyconv"].make(row, dtype, seed))
    with torch.no_grad():
        out = forward("reference", row, x, w)
    g = torch.Generator().manual_seed(seed + 1)
    return x, w, torch.randn(out.shape, generator=g, dtype=dtype).to(device)


def forward(contender: str, row: users.Row, x, w):
    """dyconv's op, or the grouped idiom ("reference")."""
    return (users.run_dyconv if contender == "dyconv" else users.run_grouped)(row, x, w)


def make_pass(contender: str, row: users.Row, x, w, grad):
    """Forward + backward (both gradients) of one contender, as a no-argument function."""
    def run():
        torch.autograd.grad(forward(contender, row, x, w), (x, w), grad)
    return run
