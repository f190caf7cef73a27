"""ModulatedConv2d: StyleGAN2/3's modulated convolution with demodulation (Karras et al. 2020).

Per sample b, with s = styles[b] (Cin) and the equalized-learning-rate gain g = 1/sqrt(Cin*k*k):

    w_b[o, i] = g * weight[o, i] * s[i]
    w_b[o, i] *= rsqrt(sum_{i,kh,kw} w_b[o, i, kh, kw]^2 + eps)     (demodulate=True)
    out[b] = conv2d(x[b], w_b)            (up=1)
    out[b] = conv_transpose2d(x[b], w_b^T, stride=2)   (up=2)

Two ways compute it: per-sample weights through dyconv's ops ("per_sample", what StyleGAN's
fused_modconv does with a grouped conv), or scale x by s -> one dense conv with g * weight ->
scale by the demodulation coefficients ("dense", StyleGAN's fused_modconv=False). Which is faster
depends on the shape (wide layers on small maps favour the dense conv), so with path="auto" the
layer times both once per input shape (forward, plus backward when a gradient is being recorded)
and keeps the faster; both give the same values up to rounding.
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from dyconv.functional import dynamic_conv2d, dynamic_conv_transpose2d
from dyconv.nn.padding_mode import check_padding_mode, pad

PATHS = ("auto", "per_sample", "dense")
_chosen: dict = {}  # (shape, dtype, device, up, grad) -> the faster path, measured on this machine


class ModulatedConv2d(nn.Module):
    """StyleGAN2/3 modulated convolution: per-sample weights from ``styles``, demodulated.

    Args:
        in_channels, out_channels, kernel_size: of the convolution (square kernel).
        demodulate: divide each output channel's per-sample weight by its L2 norm (StyleGAN2's
            replacement of AdaIN).
        up: 1, or 2 for a stride-2 transposed convolution (``dyconv.dynamic_conv_transpose2d``; the
            FIR blur StyleGAN applies after it is not part of this layer).
        padding: of the convolution; default ``kernel_size // 2`` (up=1) or 0 (up=2).
        eps: added to the squared norm before the reciprocal square root (StyleGAN: 1e-8).
        path: ``"auto"`` (time both once per shape, keep the faster), ``"per_sample"`` or ``"dense"``.
        padding_mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``, as in ``nn.Conv2d``
            (up=1; up=2 takes ``"zeros"`` only, as ``nn.ConvTranspose2d``).

    Parameter: ``weight`` ``(out_channels, in_channels, k, k)``, standard normal (equalized
    learning rate: the gain 1/sqrt(in_channels * k * k) is applied at run time).

    ``forward(x, styles)``: ``x`` ``(B, in_channels, H, W)``, ``styles`` ``(B, in_channels)`` (the
    output of StyleGAN's affine layer). ``last_path`` tells which way the last call ran.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, demodulate=True, up=1, padding=None,
                 eps=1e-8, path="auto", padding_mode="zeros"):
        super().__init__()
        if up not in (1, 2):
            raise ValueError(f"ModulatedConv2d: up must be 1 or 2, got {up!r}")
        if path not in PATHS:
            raise ValueError(f"ModulatedConv2d: path must be one of {', '.join(PATHS)}, got {path!r}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.padding_mode = check_padding_mode("ModulatedConv2d", padding_mode, transposed=up == 2)
        self.demodulate, self.up, self.eps, self.path = demodulate, up, eps, path
        self.padding = (kernel_size // 2 if up == 1 else 0) if padding is None else padding
        self.gain = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.last_path = None

    def _dcoefs(self, styles):
        """Demodulation coefficients (B, Cout): rsqrt(sum_i s_i^2 * sum_k (g w)[o, i, k]^2 + eps)."""
        w2 = (self.gain * self.weight).square().sum((2, 3))  # (Cout, Cin)
        return torch.rsqrt(styles.square() @ w2.t() + self.eps)

    def per_sample(self, x, styles):
        """Per-sample weights through dyconv's ops."""
        w = self.gain * self.weight[None] * styles[:, None, :, None, None]  # (B, Cout, Cin, k, k)
        if self.demodulate:
            w = w * torch.rsqrt(w.square().sum((2, 3, 4)) + self.eps)[:, :, None, None, None]
        if self.up == 1:
            x, padding = pad(x, self.padding_mode, (self.kernel_size,) * 2, 1, self.padding, 1)
            return dynamic_conv2d(x, w, padding=padding)
        return dynamic_conv_transpose2d(x, w.transpose(1, 2), None, 2, self.padding)

    def dense(self, x, styles):
        """Scale x by the styles, one dense conv for the whole batch, scale by the demodulation."""
        x = x * styles[:, :, None, None]
        w = self.gain * self.weight
        if self.up == 1:
            x, padding = pad(x, self.padding_mode, (self.kernel_size,) * 2, 1, self.padding, 1)
            y = F.conv2d(x, w, padding=padding)
        else:
            y = F.conv_transpose2d(x, w.transpose(0, 1), stride=2, padding=self.padding)
        return y * self._dcoefs(styles)[:, :, None, None] if self.demodulate else y

    def _choose(self, x, styles):
        grad = torch.is_grad_enabled() and (x.requires_grad or styles.requires_grad or self.weight.requires_grad)
        key = (tuple(x.shape), x.dtype, x.device.type, self.out_channels, self.kernel_size, self.up,
               self.padding, self.padding_mode, self.demodulate, grad)
        if key not in _chosen:
            _chosen[key] = min(("per_sample", "dense"), key=lambda p: self._time(p, x, styles, grad))
        return _chosen[key]

    def _time(self, path, x, styles, grad):
        """Best of 3 calls (after one warm-up) of one path on copies of the inputs."""
        fn = getattr(self, path)
        x, styles = x.detach().requires_grad_(grad), styles.detach().requires_grad_(grad)
        best = math.inf
        for i in range(4):
            t0 = time.perf_counter()
            with torch.set_grad_enabled(grad):
                y = fn(x, styles)
                if grad:
                    inputs = (x, styles, self.weight) if self.weight.requires_grad else (x, styles)
                    torch.autograd.grad(y.sum(), inputs)
            if i:
                best = min(best, time.perf_counter() - t0)
        return best

    def forward(self, x: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        path = self.path
        if path == "auto":
            path = "per_sample" if torch.compiler.is_compiling() else self._choose(x, styles)
        self.last_path = path
        return getattr(self, path)(x, styles)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"demodulate={self.demodulate}, up={self.up}, padding={self.padding}, path={self.path!r}"
                + ("" if self.padding_mode == "zeros" else f", padding_mode={self.padding_mode!r}"))
