"""Autocast rules of the forward ops (their backward ops run on what the forward saved).

CPU (``torch.autocast("cpu", dtype=torch.bfloat16 or torch.float16)``):
- ``dynamic_conv2d`` and ``dynamic_conv_transpose2d`` follow ``F.conv2d``: floating inputs other than float64
  are cast to the autocast dtype and the result has it. On CPUs with AMX-BF16 bfloat16 runs on AMX tiles
  (csrc/cpu/amx_bf16_conv.h): at the paper's 96->96 layer (batch 16, 40x248, forward + backward) 2.7x faster
  than float32 on two quiet Sapphire Rapids cores (docs/ops.md, dtypes and autocast). Elsewhere (and in float16)
  the 16-bit path is the float32 kernels on converted chunks, 1.0-1.4x float32's time: kept, so that a network
  gives the same dtypes on every CPU, as ``F.conv2d`` does.
- ``dynamic_conv_norm_act`` casts them to float32 and returns float32, as autocast's float32 ops
  (``layer_norm``, ...) do. On AMX it would be 2.1x faster in bfloat16, but the paper's models run this op and
  their test accuracy with bfloat16 layers has not been measured (docs/ops.md): until it has, autocast keeps
  their results those of the float32 op.

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


def _autocast_dtype_kernel(op, device_type):
    """op run on its inputs cast to the autocast dtype of device_type, read at call time
    (``torch.library.register_autocast`` takes one fixed dtype)."""
    def kernel(keyset, *args):
        dtype = torch.get_autocast_dtype(device_type)
        with torch.autocast(device_type, enabled=False):
            return op(*_cast(args, device_type, dtype))
    return kernel


for _name in _FORWARD_OPS:
    _op = getattr(torch.ops.dyconv, _name).default
    if _name == "dynamic_conv_norm_act":
        torch.library.register_autocast(f"dyconv::{_name}", "cpu", torch.float32)
    else:
        _lib.impl(_name, _autocast_dtype_kernel(_op, "cpu"), "AutocastCPU", with_keyset=True)
    _lib.impl(_name, _autocast_dtype_kernel(_op, "cuda"), "AutocastCUDA", with_keyset=True)
