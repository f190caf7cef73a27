"""Autocast rules of the forward ops (their backward ops run on what the forward saved).

CPU (``torch.autocast("cpu", dtype=torch.bfloat16 or torch.float16)``):
floating inputs other than float64 are cast to float32 and the result is
float32 -- what autocast does for its float32 ops (``layer_norm``, ...), not the
bfloat16 of ``F.conv2d``. The CPU ops do take 16-bit tensors, but they run the
float32 kernels on chunks converted to float32 (csrc/cpu/converted_chunks.h; no
16-bit GEMM path), so a 16-bit run is not faster: at the paper's 96->96 layer
(batch 16, 40x248, forward + backward) bfloat16 took 1.00x float32's time on one
thread, 1.4x on two loaded ones and 1.02x on two quiet ones (docs/ops.md, dtypes and
autocast; benchmarks/RESULTS.md). Under
autocast it would only add conversions and a rounding; the next autocast op
casts down where it runs in bfloat16 anyway.

CUDA: floating inputs other than float64 are cast to the autocast dtype
(``torch.get_autocast_dtype("cuda")``, float16 by default) and run on the
CUDA kernels' half/bfloat16 path, which accumulates in float32; the result has
the autocast dtype, as with ``F.conv2d``. ``torch.library.register_autocast``
takes one fixed dtype, so this kernel reads the autocast dtype at call time.
"""
from __future__ import annotations

import torch

_FORWARD_OPS = ("dynamic_conv2d", "dynamic_conv_norm_act", "dynamic_conv_transpose2d")
_lib = torch.library.Library("dyconv", "IMPL")


def _cast(args, device_type, dtype):
    """Floating tensors on ``device_type`` (float64 excepted, as in torch's autocast) -> ``dtype``."""
    def cast(a):
        if isinstance(a, torch.Tensor) and a.is_floating_point() and a.device.type == device_type \
                and a.dtype != torch.float64:
            return a.to(dtype)
        return a
    return tuple(cast(a) for a in args)


def _cuda_kernel(op):
    def kernel(keyset, *args):
        dtype = torch.get_autocast_dtype("cuda")
        with torch.autocast("cuda", enabled=False):
            return op(*_cast(args, "cuda", dtype))
    return kernel


for _name in _FORWARD_OPS:
    torch.library.register_autocast(f"dyconv::{_name}", "cpu", torch.float32)
    _lib.impl(_name, _cuda_kernel(getattr(torch.ops.dyconv, _name).default), "AutocastCUDA", with_keyset=True)
