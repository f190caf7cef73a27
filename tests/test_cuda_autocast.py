"""The ops and a model under CUDA autocast (float16 with a GradScaler, bfloat16): the ops run the
CUDA kernels' 16-bit path (float32 accumulation) and return the autocast dtype, like F.conv2d.

Marked ``cuda``; skipped without a GPU or a build with the CUDA kernels (see tests/test_cuda_gpu.py).
"""
import pytest
import torch
import torch.nn.functional as F

import dyconv
import models
from conftest import make_problem
from dyconv import reference
from test_cuda_gpu import assert_close, cpu_leaves

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.skipif(not dyconv.cuda_available(),
                       reason="dyconv was built without CUDA kernels (rebuild with FORCE_CUDA=1)"),
]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
def test_ops_under_cuda_autocast(dtype, norm):
    x, w, scale, shift, bias = (t.detach().cuda() for t in make_problem(3, 5, 11, 14, 6, (3, 3), torch.float32,
                                                                        bias=True))
    kw = dict(padding="same", dilation=2)
    with torch.autocast("cuda", dtype=dtype):
        out = dyconv.dynamic_conv_norm_act(x, w, scale, shift, norm=norm, activation="sigmoid", **kw)
        conv = dyconv.dynamic_conv2d(x, w, bias, **kw)
    assert out.dtype == dtype and conv.dtype == dtype
    # The reference in float64 on the inputs as autocast rounded them.
    rounded = cpu_leaves([t.to(dtype) for t in (x, w, scale, shift, bias)])
    ref = reference.dynamic_conv_norm_act(*rounded[:4], norm=norm, activation="sigmoid", **kw)
    assert_close(out, ref, dtype, f"fused ({norm})")
    assert_close(conv, reference.dynamic_conv2d(rounded[0], rounded[1], rounded[4], **kw), dtype, "conv")


def test_dsl_trains_under_float16_autocast_with_grad_scaler():
    torch.manual_seed(0)
    model = models.build("dsl", "small").cuda()
    x = torch.rand(8, 1, 40, 64, device="cuda")
    y = torch.arange(8, device="cuda") % 10
    params = model.trainable_parameters()
    optimizer = torch.optim.Adam(params, lr=1e-3)
    scaler = torch.amp.GradScaler("cuda")
    with torch.no_grad():
        start = F.cross_entropy(model(x), y).item()
    for _ in range(5):
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16):
            loss = F.cross_entropy(model(x), y)
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in params)
    with torch.no_grad():
        assert F.cross_entropy(model(x), y).item() < start
