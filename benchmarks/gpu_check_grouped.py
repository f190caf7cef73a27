"""The GPU check's grouped rows: users' depthwise and transposed layers, dyconv vs cuDNN.

Each row is one per-sample layer of a published model, forward + backward in float32,
timed with dyconv's op and with dyconv.reference, which runs the whole batch as one
grouped ``F.conv2d`` / ``F.conv_transpose2d`` with B * groups groups on cuDNN:

  condconv-dw-k5   CondConv (EfficientNet-B0's 672-channel depthwise 5x5 at 14x14), batch 64
  dymn-dw-k3d2     DyMN's depthwise 3x3, dilation 2, on 16 x 125 spectrogram features, batch 120
  stylegan2-up-s2  StyleGAN2's modulated up-sampling conv, transposed 3x3 stride 2,
                   128 -> 128 channels, 128x128 -> 256x256, batch 4
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

import dyconv
from dyconv import reference


@dataclass(frozen=True)
class GroupedRow:
    transposed: bool
    B: int
    Cin: int
    Cout: int
    groups: int
    k: int
    H: int
    W: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    output_padding: int = 0

    def weight_shape(self):
        if self.transposed:
            return (self.B, self.Cin, self.Cout // self.groups, self.k, self.k)
        return (self.B, self.Cout, self.Cin // self.groups, self.k, self.k)

    def flops(self) -> int:
        """Forward + backward: three times the multiply-adds (x 2) of the convolution; a
        transposed conv has those of the conv it transposes (one per input pixel and tap)."""
        if self.transposed:
            pixels, pairs = self.H * self.W, self.Cin * (self.Cout // self.groups)
        else:
            Hout = (self.H + 2 * self.padding - self.dilation * (self.k - 1) - 1) // self.stride + 1
            Wout = (self.W + 2 * self.padding - self.dilation * (self.k - 1) - 1) // self.stride + 1
            pixels, pairs = Hout * Wout, self.Cout * (self.Cin // self.groups)
        return 3 * 2 * self.B * pairs * self.k * self.k * pixels

    def label(self) -> str:
        kind = f"transposed s{self.stride}" if self.transposed else f"groups {self.groups}"
        return (f"B{self.B} {self.Cin}->{self.Cout} k{self.k} d{self.dilation} {kind} "
                f"{self.H}x{self.W}")


ROWS = {
    "condconv-dw-k5": GroupedRow(False, 64, 672, 672, 672, 5, 14, 14, padding=2),
    "dymn-dw-k3d2": GroupedRow(False, 120, 120, 120, 120, 3, 16, 125, padding=2, dilation=2),
    "stylegan2-up-s2": GroupedRow(True, 4, 128, 128, 1, 3, 128, 128, stride=2, padding=1, output_padding=1),
}
CONTENDERS = ("reference", "dyconv")
DTYPE = "float32"


def make_inputs(row: GroupedRow, dtype, device, seed=0):
    """x and weight (both requiring grad) and a fixed output gradient."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(row.B, row.Cin, row.H, row.W, generator=g, dtype=dtype)
    fan_in = row.weight_shape()[2] * row.k * row.k
    w = torch.randn(row.weight_shape(), generator=g, dtype=dtype) / fan_in ** 0.5
    x, w = (t.to(device).requires_grad_() for t in (x, w))
    with torch.no_grad():
        out = forward("reference", row, x, w)
    return x, w, torch.randn(out.shape, generator=g, dtype=dtype).to(device)


def forward(contender: str, row: GroupedRow, x, w):
    if row.transposed:
        fn = dyconv.dynamic_conv_transpose2d if contender == "dyconv" else reference.dynamic_conv_transpose2d
        return fn(x, w, None, stride=row.stride, padding=row.padding, output_padding=row.output_padding,
                  groups=row.groups, dilation=row.dilation)
    fn = dyconv.dynamic_conv2d if contender == "dyconv" else reference.dynamic_conv2d
    return fn(x, w, stride=row.stride, padding=row.padding, dilation=row.dilation, groups=row.groups)


def make_pass(contender: str, row: GroupedRow, x, w, grad):
    """Forward + backward (both gradients) of one contender, as a no-argument function."""
    def run():
        torch.autograd.grad(forward(contender, row, x, w), (x, w), grad)
    return run
