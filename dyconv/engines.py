"""Which CPU engine runs a call: :func:`cpu_engine_for`.

The CPU kernels have five engines: Winograd (2x2 or 4x4 output tiles), direct taps, shifted per-tap GEMMs, the
stride phases (strides above 1) and im2col (docs/cpu_kernels.md). The first call of a shape class in a process
decides which one runs it, and every later call of that class takes the same one (so results are
bitwise reproducible within the process):

- by default a fixed rule of the shape (thresholds measured on Intel Sapphire Rapids;
  ``benchmarks/RESULTS.md``, "Engine choice", for what they give on an AMD EPYC);
- with ``DYCONV_CPU_AUTOTUNE=1`` by timing every engine that applies on the call's
  geometry (about twice a call per engine, per thread's share of samples, once per class),
  like ``torch.backends.cudnn.benchmark``; ``DYCONV_CPU_AUTOTUNE_CACHE=<file>`` keeps the
  decisions (per CPU) for later processes, which then take the same engines;
- ``DYCONV_CPU_ENGINE=winograd|winograd4|direct|shifted|phases|im2col`` forces one wherever it applies.

Winograd F(4x4, 3x3) (``"winograd4"``) rounds several times more than the others in float32: the rule never
takes it, and the autotuner considers it only under ``torch.set_float32_matmul_precision("high")`` or
``"medium"`` (the precision is then part of the shape class).

``DYCONV_LOG_ENGINE=1`` prints each decision to stderr.
"""
from __future__ import annotations

import torch

from dyconv._args import conv_params


def cpu_engine_for(x, weight, *, stride=1, padding=0, dilation=1, groups=1) -> str:
    """The CPU engine that ``dynamic_conv2d(x, weight, ...)`` and ``dynamic_conv_norm_act``
    run with these arguments in this process: ``"winograd"``, ``"winograd4"``, ``"direct"``, ``"shifted"``,
    ``"phases"``, ``"im2col"`` or, for depthwise layers, ``"depthwise-lanes"`` (maps of at most 64 pixels: one
    (sample, channel) plane per vector lane) and ``"depthwise"`` (strided, larger maps), their own kernels; other
    grouped layers run the engines with each group as a sample. ``x`` and ``weight`` are
    tensors (or their shapes), ``(B, Cin, H, W)`` and ``(B, Cout, Cin // groups, kH, kW)``; a float64 ``x`` asks
    about the float64 kernels. bfloat16 and float16 run the float32 ones, except that on a CPU with AMX-BF16 a
    bfloat16 ``x`` of a stride-1 layer with at least 16 channels per group each way and 128 output pixels per
    sample gives ``"amx-bf16"``: the three ops then run on AMX tiles. Asking decides for the shape class if no
    call has yet (with autotuning on: times the engines).
    """
    x_size, w_size = (list(t.shape if isinstance(t, torch.Tensor) else t) for t in (x, weight))
    if len(x_size) != 4 or len(w_size) != 5:
        raise ValueError(f"cpu_engine_for: expected x (B, Cin, H, W) and weight (B, Cout, Cin, kH, kW), "
                         f"got sizes {x_size} and {w_size}")
    stride, padding, dilation, extra = conv_params(tuple(w_size[3:]), stride, padding, dilation)
    x_size[2] += extra[0]
    x_size[3] += extra[1]
    dtype = x.dtype if isinstance(x, torch.Tensor) else torch.float32
    return torch.ops.dyconv.cpu_engine_for(x_size, w_size, list(stride), list(padding), list(dilation), int(groups),
                                            dtype)
