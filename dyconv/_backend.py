"""Which backends this build of dyconv has kernels for."""
from __future__ import annotations

import torch

_OPS = ("dynamic_conv2d", "dynamic_conv2d_backward", "dynamic_conv_norm_act",
        "dynamic_conv_norm_act_backward")


def cuda_available() -> bool:
    """Whether this build of dyconv includes the CUDA kernels (csrc/cuda/).

    True when the extension was compiled with them (a CUDA build of torch and
    nvcc, or FORCE_CUDA=1). Whether a GPU is present is
    ``torch.cuda.is_available()``.
    """
    return all(torch._C._dispatch_has_kernel_for_dispatch_key(f"dyconv::{op}", "CUDA") for op in _OPS)


def check_device(fn: str, x) -> None:
    """Fail clearly when a CUDA tensor reaches a build without CUDA kernels."""
    if isinstance(x, torch.Tensor) and x.is_cuda and not cuda_available():
        raise RuntimeError(
            f"{fn}: x is a CUDA tensor ({x.device}) but this build of dyconv has no CUDA kernels; "
            "expected a CPU tensor, or rebuild dyconv with them: with a CUDA build of torch and "
            "nvcc installed, run `FORCE_CUDA=1 pip install --no-build-isolation -e .` (the build "
            "prints whether CUDA kernels are included; dyconv.cuda_available() tells at runtime)"
        )
