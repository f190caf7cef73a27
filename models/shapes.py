"""Input contract of the models and the geometry of their max-pooling.

Classifier and filter generator pool three times (paper §4.1, §4.2): first a
3x3 kernel with stride 2x2, then twice a 3x4 kernel (3 in frequency, 4 in
time) with stride 2x3, all without padding and in floor mode (PyTorch's
default, TensorFlow's "valid"). With the paper's 40x248 input the grid goes
40x248 -> 19x123 -> 9x40 -> 4x13.

Smallest sizes that survive the three pools: 15 Mel bins (15 -> 7 -> 3 -> 1)
and 27 frames (27 -> 13 -> 4 -> 1). The models promise T >= MIN_FRAMES = 32
(32 -> 15 -> 4 -> 1), so no ceil_mode or extra padding is needed.
"""
from __future__ import annotations

import torch
from torch import nn

FIRST_POOL = ((3, 3), (2, 2))  # (kernel, stride), (freq, time)
LATER_POOL = ((3, 4), (2, 3))
MIN_MELS = 15
MIN_FRAMES = 32
NON_FINITE = "input contains NaN or infinite values; clean or re-extract the features"


def max_pool(first: bool) -> nn.MaxPool2d:
    kernel, stride = FIRST_POOL if first else LATER_POOL
    return nn.MaxPool2d(kernel, stride)


def pooled_size(n: int, n_pools: int, axis: int) -> int:
    """Length of ``axis`` (0 freq, 1 time) after the first ``n_pools`` pools (< 1: too short)."""
    for i in range(n_pools):
        kernel, stride = FIRST_POOL if i == 0 else LATER_POOL
        n = (n - kernel[axis]) // stride[axis] + 1
    return n


def check_n_mels(n_mels) -> int:
    if isinstance(n_mels, bool) or not isinstance(n_mels, int) or n_mels < MIN_MELS:
        raise ValueError(
            f"n_mels must be an int >= {MIN_MELS} (three max-pools of height 3 need it), got {n_mels!r}"
        )
    return n_mels


def check_input(x, n_mels: int, like: torch.Tensor) -> None:
    """Validate a model input: a finite float tensor of shape (B, 1, n_mels, T), T >= MIN_FRAMES,
    with the dtype and device of the model's parameter ``like``.

    NaN or infinite values raise rather than propagate: a mask computed from
    them is NaN everywhere (layer norm mixes the whole sample), which would
    otherwise surface as a NaN loss far from its cause.
    """
    expected = f"(B, 1, {n_mels}, T) with T >= {MIN_FRAMES}"
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"input must be a torch.Tensor of shape {expected}, got {type(x).__name__}")
    if x.dim() != 4:
        hint = "; add the channel axis with x.unsqueeze(1)" if x.dim() == 3 else ""
        raise ValueError(
            f"input must have 4 dims {expected}, got {x.dim()} dims, shape {tuple(x.shape)}{hint}"
        )
    _, channels, mels, frames = x.shape
    if channels != 1:
        raise ValueError(f"input must have 1 channel, shape {expected}, got shape {tuple(x.shape)}")
    if mels != n_mels:
        raise ValueError(
            f"input has {mels} Mel bins but the model was built for n_mels={n_mels}: "
            f"expected shape {expected}, got {tuple(x.shape)}"
        )
    if frames < MIN_FRAMES:
        raise ValueError(
            f"input has {frames} frames, expected at least {MIN_FRAMES} (shape {expected}), "
            f"got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise ValueError(f"input must be a floating-point tensor, got dtype {x.dtype}")
    if x.dtype != like.dtype or x.device != like.device:
        raise ValueError(
            f"input is {x.dtype} on {x.device} but the model is {like.dtype} on {like.device}; "
            f"convert with x.to(dtype={like.dtype}, device='{like.device}') (or move the model)"
        )
    finite = torch.isfinite(x).all()
    if torch.compiler.is_compiling():
        # torch.compile / torch.export: a Python bool of tensor data cannot be traced; the check
        # becomes an assertion op in the graph, so the compiled or exported model still refuses it.
        torch._assert_async(finite, NON_FINITE)
    elif not finite:
        raise ValueError(NON_FINITE)
