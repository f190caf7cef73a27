"""The per-sample convolutions of PyTorch users outside the paper (issue 22), and the ways
they compute them today, for benchmarks/test_bench_users.py.

Every row is a plain per-sample convolution ``y[b] = F.conv2d(x[b], w[b])`` (no norm), or
``F.conv1d`` for the 1-D rows (``dims=1``: x ``(B, Cin, W)``, H = 1). Its contenders:

- ``dyconv``: ``dyconv.dynamic_conv2d`` (or ``dynamic_conv_transpose2d``, ``dynamic_conv1d``);
- ``grouped``: the idiom users run, ``F.conv2d(x.reshape(1, B*Cin, H, W),
  w.reshape(B*Cout, ...), groups=B)`` (``F.conv1d`` for 1-D rows): the baseline of every ratio;
- ``vmap``: ``torch.func.vmap`` of ``F.conv2d`` (``F.conv1d``) over the batch;
- where it applies, the user's own alternative: StyleGAN2's non-fused path (scale x by
  the styles, one dense conv with the shared weight, scale by the demodulation), timm
  CondConv's "convolve with each expert, then combine" (pointwise rows) and, for 1x1
  rows, ``torch.bmm``. These take their own inputs (styles, experts and routing), with
  the per-sample weight they stand for built from them, and their gradients are those
  of their inputs.

Each contender's ``make(row, dtype, seed)`` returns its inputs (all requiring grad),
``fn(*inputs)`` the output, and ``per_sample(*inputs)`` the ``(x, w)`` the inputs stand
for, so the float64 reference (``F.conv2d`` per sample) checks them all.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

import dyconv

EXPERTS = 4  # CondConv's experts per layer (timm's EfficientNet-CondConv: 4 or 8)


@dataclass(frozen=True)
class Row:
    name: str
    B: int
    Cin: int
    Cout: int
    H: int
    W: int
    k: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    transposed: bool = False  # then Cin -> Cout is the transposed conv's
    user: str = ""  # the user's own alternative: "stylegan2", "condconv" or ""
    dims: int = 2  # 1: a 1-D conv (H = 1): x (B, Cin, W), kernel k, F.conv1d and dyconv.dynamic_conv1d

    def quick(self) -> Row:
        """A small version (CI: every contender once, in a second or so)."""
        g = min(self.groups, 4)
        Cin, Cout = (g, g) if self.groups > 1 else (min(self.Cin, 8), min(self.Cout, 8))
        return replace(self, B=min(self.B, 3), Cin=Cin, Cout=Cout, H=min(self.H, 11), W=min(self.W, 13), groups=g)

    def conv_kwargs(self) -> dict:
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups)

    @property
    def flops(self) -> int:
        """Multiply-adds x 2 of forward + backward (three convolutions of the forward's size)."""
        if self.transposed:
            Ho, Wo = self.H, self.W  # the forward conv it is the gradient of runs on the input grid
        else:
            Ho = 1 if self.dims == 1 else (self.H + 2 * self.padding - self.dilation * (self.k - 1) - 1) // self.stride + 1
            Wo = (self.W + 2 * self.padding - self.dilation * (self.k - 1) - 1) // self.stride + 1
        return 3 * 2 * self.B * self.Cout * self.Cin // self.groups * self.k ** self.dims * Ho * Wo

    def label(self) -> str:
        extra = "".join([f" s{self.stride}" if self.stride > 1 else "", f" p{self.padding}" if self.padding else "",
                         f" d{self.dilation}" if self.dilation > 1 else "", f" g{self.groups}" if self.groups > 1 else "",
                         " transposed" if self.transposed else ""])
        size = f"L{self.W}" if self.dims == 1 else f"{self.H}x{self.W}"
        return f"B{self.B} {self.Cin}->{self.Cout} {size} k{self.k}{extra}"

    def engine_args(self) -> tuple:
        """``(x_size, w_size, kwargs)`` of ``dyconv.cpu_engine_for`` for the engine this row runs (a
        transposed row: that of the conv it transposes, input (B, Cout, Hout, Wout); a 1-D row: H = 1)."""
        if self.dims == 1:
            return ((self.B, self.Cin, 1, self.W), (self.B, self.Cout, self.Cin // self.groups, 1, self.k),
                    dict(stride=(1, self.stride), padding=(0, self.padding), dilation=(1, self.dilation),
                         groups=self.groups))
        kw = dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups)
        if not self.transposed:
            return (self.B, self.Cin, self.H, self.W), (self.B, self.Cout, self.Cin // self.groups, self.k, self.k), kw
        Ho, Wo = ((n - 1) * self.stride - 2 * self.padding + self.dilation * (self.k - 1) + _output_padding(self) + 1
                  for n in (self.H, self.W))
        return (self.B, self.Cout, Ho, Wo), (self.B, self.Cin, self.Cout // self.groups, self.k, self.k), kw


ROWS = [
    Row("stylegan3-t", 4, 512, 512, 36, 36, 3, padding=2, user="stylegan2"),
    Row("stylegan2-512", 4, 512, 512, 64, 64, 3, padding=1, user="stylegan2"),
    Row("stylegan2-128", 4, 128, 128, 256, 256, 3, padding=1, user="stylegan2"),
    Row("stylegan2-up", 4, 128, 128, 128, 128, 3, stride=2, padding=1, transposed=True),
    Row("odconv", 32, 512, 512, 7, 7, 3, padding=1),
    Row("condconv-pw", 64, 112, 672, 14, 14, 1, user="condconv"),
    Row("condconv-dw", 64, 672, 672, 14, 14, 5, padding=2, groups=672),
    Row("dymn-pw", 120, 40, 120, 16, 125, 1),
    Row("dymn-dw", 120, 120, 120, 16, 125, 3, padding=2, dilation=2, groups=120),
    Row("condinst", 200, 10, 8, 100, 136, 1),
    Row("strided", 32, 64, 128, 56, 56, 3, stride=2, padding=1),
    # 1-D: a TCN / WaveNet stack on one second of 16 kHz audio, per-utterance filters (issue 30)
    *(Row(f"tcn-d{d}", 32, 256, 256, 1, 16000, 3, padding=d, dilation=d, dims=1) for d in (1, 2, 4, 8)),
    # A CondConv EfficientNet-B0's last stages at 128x128 images (issue 29): small per-sample maps.
    Row("effnet-pw8-up", 16, 112, 672, 8, 8, 1, user="condconv"),
    Row("effnet-pw8-down", 16, 672, 112, 8, 8, 1, user="condconv"),
    Row("effnet-pw4-up", 16, 192, 1152, 4, 4, 1, user="condconv"),
    Row("effnet-pw4-down", 16, 1152, 320, 4, 4, 1, user="condconv"),
    Row("effnet-dw8-k5", 16, 672, 672, 8, 8, 5, padding=2, groups=672),
    Row("effnet-dw8-k5-s2", 16, 672, 672, 8, 8, 5, stride=2, padding=2, groups=672),
    Row("effnet-dw4-k3", 16, 1152, 1152, 4, 4, 3, padding=1, groups=1152),
    Row("effnet-dw4-k5", 16, 1152, 1152, 4, 4, 5, padding=2, groups=1152),
]


def _weight_shape(row: Row):
    if row.transposed:
        return (row.B, row.Cin, row.Cout // row.groups) + (row.k,) * row.dims
    return (row.B, row.Cout, row.Cin // row.groups) + (row.k,) * row.dims


def _spatial(row: Row):
    return (row.W,) if row.dims == 1 else (row.H, row.W)


def _conv(row: Row):
    """The torch function of one sample's conv: F.conv2d, F.conv_transpose2d or F.conv1d."""
    if row.dims == 1:
        return F.conv1d
    return F.conv_transpose2d if row.transposed else F.conv2d


def _output_padding(row: Row) -> int:
    return row.stride - 1 if row.transposed else 0  # 128 -> 256 at stride 2


def _per_sample_inputs(row: Row, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(row.B, row.Cin, *_spatial(row), generator=g, dtype=dtype)
    fan_in = (row.Cin // row.groups) * row.k ** row.dims
    w = torch.randn(_weight_shape(row), generator=g, dtype=dtype) / fan_in ** 0.5
    return [x.requires_grad_(), w.requires_grad_()]


def per_sample_reference(row: Row, x, w):
    """F.conv2d (or conv_transpose2d) on each sample: the ground truth."""
    if row.transposed:
        return torch.cat([F.conv_transpose2d(x[b:b + 1], w[b], stride=row.stride, padding=row.padding,
                                             output_padding=_output_padding(row), groups=row.groups,
                                             dilation=row.dilation) for b in range(row.B)])
    return torch.cat([_conv(row)(x[b:b + 1], w[b], **row.conv_kwargs()) for b in range(row.B)])


def run_dyconv(row, x, w):
    kw = row.conv_kwargs()
    if row.transposed:
        return dyconv.dynamic_conv_transpose2d(x, w, output_padding=_output_padding(row), **kw)
    return (dyconv.dynamic_conv1d if row.dims == 1 else dyconv.dynamic_conv2d)(x, w, **kw)


def run_grouped(row, x, w):
    B = row.B
    xg = x.reshape(1, B * row.Cin, *_spatial(row))
    if row.transposed:
        y = F.conv_transpose2d(xg, w.reshape(B * row.Cin, *w.shape[2:]), stride=row.stride, padding=row.padding,
                               output_padding=_output_padding(row), groups=B * row.groups, dilation=row.dilation)
    else:
        y = _conv(row)(xg, w.reshape(B * row.Cout, *w.shape[2:]), stride=row.stride, padding=row.padding,
                       dilation=row.dilation, groups=B * row.groups)
    return y.reshape(B, row.Cout, *y.shape[2:])


def run_vmap(row, x, w):
    if row.transposed:
        def one(xb, wb):
            return F.conv_transpose2d(xb[None], wb, stride=row.stride, padding=row.padding,
                                      output_padding=_output_padding(row), groups=row.groups,
                                      dilation=row.dilation)[0]
    else:
        def one(xb, wb):
            return _conv(row)(xb[None], wb, **row.conv_kwargs())[0]
    return torch.func.vmap(one)(x, w)


def run_bmm(row, x, w):
    y = torch.bmm(w.reshape(row.B, row.Cout, row.Cin), x.reshape(row.B, row.Cin, row.H * row.W))
    return y.reshape(row.B, row.Cout, row.H, row.W)


# StyleGAN2 (networks.py, modulated_conv2d): weight[b] = W * styles[b, ci] * dcoefs[b, co].
def _stylegan2_inputs(row, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(row.B, row.Cin, row.H, row.W, generator=g, dtype=dtype)
    W = torch.randn(row.Cout, row.Cin, row.k, row.k, generator=g, dtype=dtype) / (row.Cin * row.k * row.k) ** 0.5
    styles = 1 + 0.2 * torch.randn(row.B, row.Cin, generator=g, dtype=dtype)
    dcoefs = 1 + 0.2 * torch.randn(row.B, row.Cout, generator=g, dtype=dtype)
    return [t.requires_grad_() for t in (x, W, styles, dcoefs)]


def _stylegan2_weight(W, styles, dcoefs):
    return W[None] * styles[:, None, :, None, None] * dcoefs[:, :, None, None, None]


def run_stylegan2_nonfused(row, x, W, styles, dcoefs):
    y = F.conv2d(x * styles[:, :, None, None], W, stride=row.stride, padding=row.padding, dilation=row.dilation)
    return y * dcoefs[:, :, None, None]


# timm CondConv2d: weight[b] = sum_e routing[b, e] * experts[e].
def _condconv_inputs(row, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(row.B, row.Cin, row.H, row.W, generator=g, dtype=dtype)
    experts = torch.randn(EXPERTS, row.Cout, row.Cin, row.k, row.k, generator=g, dtype=dtype) / row.Cin ** 0.5
    routing = torch.rand(row.B, EXPERTS, generator=g, dtype=dtype)
    return [t.requires_grad_() for t in (x, experts, routing)]


def _condconv_weight(experts, routing):
    return torch.einsum("be,eoikl->boikl", routing, experts)


def run_condconv_experts(row, x, experts, routing):
    y = F.conv2d(x, experts.reshape(EXPERTS * row.Cout, row.Cin, row.k, row.k), stride=row.stride,
                 padding=row.padding, dilation=row.dilation)
    y = y.reshape(row.B, EXPERTS, row.Cout, *y.shape[2:])
    return (y * routing[:, :, None, None, None]).sum(1)


@dataclass(frozen=True)
class Contender:
    name: str
    fn: object  # fn(row, *inputs) -> y
    make: object = _per_sample_inputs  # make(row, dtype, seed) -> inputs
    per_sample: object = staticmethod(lambda row, x, w: (x, w))  # (row, *inputs) -> (x, w)


CONTENDERS = {
    c.name: c
    for c in (
        Contender("dyconv", run_dyconv),
        Contender("grouped", run_grouped),
        Contender("vmap", run_vmap),
        Contender("bmm", run_bmm),
        Contender("stylegan2-nonfused", run_stylegan2_nonfused, _stylegan2_inputs,
                  lambda row, x, W, s, d: (x, _stylegan2_weight(W, s, d))),
        Contender("condconv-experts", run_condconv_experts, _condconv_inputs,
                  lambda row, x, e, r: (x, _condconv_weight(e, r))),
    )
}
BASELINE = "grouped"


def contenders_for(row: Row) -> list[str]:
    names = ["dyconv", "grouped", "vmap"]
    if row.k == 1 and row.stride == 1 and row.groups == 1 and not row.transposed and row.dims == 2:
        names.append("bmm")
    if row.user == "stylegan2":
        names.append("stylegan2-nonfused")
    if row.user == "condconv":
        names.append("condconv-experts")
    return names


def errors_vs_float64(row: Row, name: str, seed=0) -> float:
    """The worst of the output's and every input gradient's max |float32 - float64| relative
    to the largest float64 value, float64 = F.conv2d per sample on what the inputs stand for."""
    c = CONTENDERS[name]
    inputs = c.make(row, torch.float32, seed)
    exact = [t.detach().double().requires_grad_() for t in inputs]
    out = c.fn(row, *inputs)
    want = per_sample_reference(row, *c.per_sample(row, *exact))
    g = torch.randn(want.shape, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    got = [out, *torch.autograd.grad(out, inputs, g.float())]
    exp = [want, *torch.autograd.grad(want, exact, g)]
    return max(((a.detach().double() - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
               for a, b in zip(got, exp))


def make_pass(row: Row, name: str, inputs):
    """forward + backward of every input, as one no-argument function."""
    c = CONTENDERS[name]
    grad_out = None

    def run():
        nonlocal grad_out
        out = c.fn(row, *inputs)
        if grad_out is None:
            grad_out = torch.randn_like(out)
        torch.autograd.grad(out, inputs, grad_out)

    return run
