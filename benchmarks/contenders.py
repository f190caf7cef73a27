"""The problems and the contenders the suite times against each other.

Every per-sample contender computes the fused layer of the paper:
``relu(layer_norm(conv2d(x[b], weight[b])) * scale[b, c] + shift[b, c])``
("same" padding, 3x3 kernel). The ceiling is a dense ``F.conv2d`` with one
weight shared by the batch: the same FLOPs with no per-sample weights and no
normalization, i.e. the rate this machine reaches on this convolution.
"""
from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass
from unittest import mock

import torch
import torch.nn.functional as F

import dyconv
from dyconv import reference

KERNEL = 3
# The paper's dynamic filter layers at 40 mel bands x 248 frames: (Cin, Cout, dilation).
PAPER_LAYERS = {"layer1": (1, 24, 1), "layer3": (96, 96, 4), "layer5": (96, 1, 1)}
# The suite's layers: the paper's and the small model's widest (models/configs.py "small";
# the direct-taps engine's case).
LAYERS = {**PAPER_LAYERS, "small4": (24, 24, 8)}
PASSES = ("forward", "fwd+bwd", "inference")


@dataclass(frozen=True)
class Problem:
    B: int
    Cin: int
    Cout: int
    dilation: int
    H: int = 40
    W: int = 248

    @property
    def conv_flops(self) -> int:
        """Multiply-adds x 2 of one convolution (the forward)."""
        return 2 * self.B * self.Cout * self.Cin * KERNEL * KERNEL * self.H * self.W

    def flops(self, pass_name: str) -> int:
        """Forward: one convolution; forward + backward adds the input and weight gradients."""
        return self.conv_flops * (3 if pass_name == "fwd+bwd" else 1)

    def label(self) -> str:
        return f"B{self.B} {self.Cin}->{self.Cout} d{self.dilation} {self.H}x{self.W}"


def add_shape_args(ap):
    """The command-line flags of one paper-like layer shape (benchmarks.time_layer, benchmarks.time_conv):
    --batch, --channels, --out-channels, --frames, --dilation of a 3x3 kernel on 40 mel bands."""
    ap.add_argument("--batch", type=int, default=16, help="samples per call (default 16)")
    ap.add_argument("--channels", type=int, default=96, help="input channels (default 96)")
    ap.add_argument("--out-channels", type=int, default=None, help="output channels (default: --channels)")
    ap.add_argument("--frames", type=int, default=248, help="time frames: columns (default 248)")
    ap.add_argument("--dilation", type=int, default=4, help="dilation of the 3x3 kernel, padding the same (default 4)")


def make_inputs(p: Problem, dtype=torch.float32, device="cpu", seed=0, shared_weight=False):
    """x, weight, scale, shift, all requiring grad. With shared_weight: (x, weight) only,
    weight of shape (Cout, Cin, k, k) for the dense ceiling."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(p.B, p.Cin, p.H, p.W, generator=g, dtype=dtype)
    wshape = (p.Cout, p.Cin, KERNEL, KERNEL) if shared_weight else (p.B, p.Cout, p.Cin, KERNEL, KERNEL)
    w = torch.randn(wshape, generator=g, dtype=dtype) / (p.Cin * KERNEL * KERNEL) ** 0.5
    tensors = [x, w]
    if not shared_weight:
        tensors += [1 + 0.5 * torch.randn(p.B, p.Cout, generator=g, dtype=dtype),
                    0.5 * torch.randn(p.B, p.Cout, generator=g, dtype=dtype)]
    return [t.to(device).requires_grad_() for t in tensors]


def _norm_act(y, scale, shift):
    y = F.layer_norm(y, y.shape[1:], eps=1e-5)
    return torch.relu(y * scale[:, :, None, None] + shift[:, :, None, None])


def run_dyconv(x, w, scale, shift, dilation):
    return dyconv.dynamic_conv_norm_act(x, w, scale, shift, padding="same", dilation=dilation)


def run_reference(x, w, scale, shift, dilation):
    return reference.dynamic_conv_norm_act(x, w, scale, shift, padding="same", dilation=dilation)


@functools.lru_cache(maxsize=None)
def _compiled_reference():
    # One static graph per shape and grad mode; the suite has more of those than
    # dynamo's default recompile limit, past which it would silently run eager.
    import torch._dynamo

    cfg = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(cfg, name):
            setattr(cfg, name, max(getattr(cfg, name), 256))
    return torch.compile(reference.dynamic_conv_norm_act, dynamic=False)


def run_compiled(x, w, scale, shift, dilation):
    return _compiled_reference()(x, w, scale, shift, padding="same", dilation=dilation)


def run_unfold_bmm(x, w, scale, shift, dilation):
    B, Cout, Cin, kH, kW = w.shape
    cols = F.unfold(x, (kH, kW), dilation=dilation, padding=dilation * (kH // 2))  # (B, K, H*W)
    y = torch.bmm(w.reshape(B, Cout, Cin * kH * kW), cols).reshape(B, Cout, x.shape[2], x.shape[3])
    return _norm_act(y, scale, shift)


def run_vmap(x, w, scale, shift, dilation):
    def one(xb, wb):
        return F.conv2d(xb[None], wb, padding="same", dilation=dilation)[0]

    return _norm_act(torch.vmap(one)(x, w), scale, shift)


def run_dense_ceiling(x, w, dilation):
    return F.conv2d(x, w, padding="same", dilation=dilation)


@dataclass(frozen=True)
class Contender:
    name: str
    fn: object
    shared_weight: bool = False  # the dense ceiling: (x, weight) with one weight
    cpu_engine: str | None = None  # dyconv with this CPU engine forced (DYCONV_CPU_ENGINE)


def cpu_engine(name: str | None):
    """A context with DYCONV_CPU_ENGINE=name (forward and backward); None: unchanged. "no-amx": the automatic
    choice with the AMX bfloat16 kernels off (DYCONV_AMX=0: bfloat16 on the float32 engines)."""
    if name is None:
        return contextlib.nullcontext()
    if name == "no-amx":
        return mock.patch.dict(os.environ, {"DYCONV_AMX": "0"})
    return mock.patch.dict(os.environ, {"DYCONV_CPU_ENGINE": name})


CONTENDERS = {
    c.name: c
    for c in (
        Contender("dyconv", run_dyconv),  # the engine dyconv picks
        Contender("dyconv-winograd", run_dyconv, cpu_engine="winograd"),  # CPU engines forced
        Contender("dyconv-shifted", run_dyconv, cpu_engine="shifted"),
        Contender("dyconv-direct", run_dyconv, cpu_engine="direct"),
        Contender("reference", run_reference),
        Contender("reference-compiled", run_compiled),
        Contender("unfold-bmm", run_unfold_bmm),
        Contender("vmap-conv2d", run_vmap),
        Contender("dense-conv2d-ceiling", run_dense_ceiling, shared_weight=True),
    )
}


def call(contender: Contender, inputs, dilation):
    return contender.fn(*inputs, dilation)


def make_pass(contender: Contender, inputs, dilation, pass_name, sync=lambda: None):
    """A no-argument function running one pass of the contender on the inputs."""
    if pass_name == "forward":
        def run():
            with cpu_engine(contender.cpu_engine):
                call(contender, inputs, dilation)
            sync()
    elif pass_name == "inference":
        def run():
            with torch.no_grad(), cpu_engine(contender.cpu_engine):
                call(contender, inputs, dilation)
            sync()
    elif pass_name == "fwd+bwd":
        grad_out = None

        def run():
            nonlocal grad_out
            with cpu_engine(contender.cpu_engine):
                out = call(contender, inputs, dilation)
                if grad_out is None:
                    grad_out = torch.randn_like(out)
                torch.autograd.grad(out, inputs, grad_out)
            sync()
    else:
        raise ValueError(f"pass must be one of {PASSES}, got {pass_name!r}")
    return run


def check_against_float64(contender: Contender, p: Problem, device="cpu", rtol=1e-3):
    """Output and all gradients of the contender in float32 vs the float64 ground truth
    (dyconv.reference, or F.conv2d for the dense ceiling). Returns the worst error,
    relative to the largest magnitude of each expected tensor; raises AssertionError
    naming the tensor that disagrees."""
    inputs = make_inputs(p, torch.float32, device, shared_weight=contender.shared_weight)
    exact = [t.detach().double().cpu().requires_grad_() for t in inputs]
    with cpu_engine(contender.cpu_engine):
        out = call(contender, inputs, p.dilation)
        g = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        got_grads = torch.autograd.grad(out, inputs, g.to(device=device, dtype=torch.float32))
    if contender.shared_weight:
        want = F.conv2d(exact[0], exact[1], padding="same", dilation=p.dilation)
    else:
        want = reference.dynamic_conv_norm_act(*exact, padding="same", dilation=p.dilation)
    want_grads = torch.autograd.grad(want, exact, g)
    names = ["output", "grad x", "grad weight", "grad scale", "grad shift"]
    worst = 0.0
    for name, a, b in zip(names, (out,) + tuple(got_grads), (want,) + tuple(want_grads)):
        err = (a.detach().double().cpu() - b).abs().max().item() / max(1.0, b.abs().max().item())
        assert err <= rtol, (
            f"{contender.name} disagrees with the float64 reference on {p.label()}: {name} "
            f"off by {err:.3g} (relative to its largest value), expected <= {rtol}"
        )
        worst = max(worst, err)
    return worst
