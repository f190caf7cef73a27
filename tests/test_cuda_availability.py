"""dyconv.cuda_available() and the error a CUDA tensor gets from a build without CUDA kernels.

Runs without a GPU: the CUDA tensors here are fake tensors (metadata only) on a
"cuda" device, which is all the check looks at.
"""
import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode

import dyconv


def test_cuda_available_reports_the_registered_kernels():
    ops = ("dynamic_conv2d", "dynamic_conv2d_backward", "dynamic_conv_norm_act",
           "dynamic_conv_norm_act_backward")
    registered = [torch._C._dispatch_has_kernel_for_dispatch_key(f"dyconv::{op}", "CUDA") for op in ops]
    assert dyconv.cuda_available() is all(registered)
    # the glue registers all four ops or none
    assert all(registered) or not any(registered)


def _fake_cuda(*shape):
    return FakeTensor(FakeTensorMode(), torch.empty(*shape, device="meta"), torch.device("cuda"))


@pytest.mark.skipif(dyconv.cuda_available(), reason="this build has the CUDA kernels")
@pytest.mark.parametrize("fn", ["dynamic_conv2d", "dynamic_conv_norm_act"])
def test_cuda_tensor_without_cuda_kernels_says_how_to_rebuild(fn):
    x, w = _fake_cuda(2, 3, 8, 8), _fake_cuda(2, 4, 3, 3, 3)
    scale = shift = _fake_cuda(2, 4)
    args = (x, w) if fn == "dynamic_conv2d" else (x, w, scale, shift)
    with pytest.raises(RuntimeError, match=rf"^{fn}: x is a CUDA tensor .* no CUDA kernels.*FORCE_CUDA=1"):
        getattr(dyconv, fn)(*args)
