"""Strides, layouts, empty batches and partial gradient requests."""
import pytest
import torch

import dyconv
from dyconv import reference
from conftest import assert_close, make_problem

F64 = torch.float64


def test_non_contiguous_and_channels_last_inputs():
    x, w, scale, shift = make_problem(3, 4, 10, 12, 5, (3, 3), F64)
    kw = dict(padding="same", dilation=2, norm="instance", activation="sigmoid")
    want = reference.dynamic_conv_norm_act(x, w, scale, shift, **kw)
    x_cl = x.detach().to(memory_format=torch.channels_last).requires_grad_()
    x_t = x.detach().transpose(2, 3).contiguous().transpose(2, 3).requires_grad_()  # strided view
    w_nc = w.detach().permute(1, 0, 2, 3, 4).contiguous().permute(1, 0, 2, 3, 4)
    scale_nc = scale.detach().t().contiguous().t()
    assert not x_t.is_contiguous() and not w_nc.is_contiguous() and not scale_nc.is_contiguous()
    for xi in (x_cl, x_t):
        out = dyconv.dynamic_conv_norm_act(xi, w_nc, scale_nc, shift, **kw)
        assert_close(out, want, F64, "output")
        (gx,) = torch.autograd.grad(out.sum(), xi)
        (gx_ref,) = torch.autograd.grad(want.sum(), x, retain_graph=True)
        assert_close(gx, gx_ref, F64, "grad x")


def test_non_contiguous_grad_out():
    x, w, scale, shift = make_problem(2, 3, 8, 9, 4, (3, 3), F64)
    out = dyconv.dynamic_conv_norm_act(x, w, scale, shift)
    ref = reference.dynamic_conv_norm_act(x, w, scale, shift)
    g = torch.randn(2, 4, 9, 8, dtype=F64).transpose(2, 3)
    for got, want in zip(torch.autograd.grad(out, (x, w), g), torch.autograd.grad(ref, (x, w), g)):
        assert_close(got, want, F64, "grad")


def test_empty_batch():
    x = torch.randn(0, 3, 8, 8, requires_grad=True)
    w = torch.randn(0, 4, 3, 3, 3, requires_grad=True)
    s, t = torch.ones(0, 4, requires_grad=True), torch.zeros(0, 4, requires_grad=True)
    out = dyconv.dynamic_conv_norm_act(x, w, s, t)
    assert out.shape == (0, 4, 8, 8)
    out.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape and s.grad.shape == s.shape
    y = dyconv.dynamic_conv2d(x, w, stride=2, padding=1)
    assert y.shape == (0, 4, 4, 4)


@pytest.mark.parametrize("wanted", [(0,), (1,), (2,), (3,), (0, 2), (1, 3)])
def test_only_requested_gradients(wanted):
    x, w, scale, shift = (t.detach() for t in make_problem(2, 3, 7, 8, 4, (3, 3), F64))
    inputs = [x, w, scale, shift]
    for i in wanted:
        inputs[i].requires_grad_()
    out = dyconv.dynamic_conv_norm_act(*inputs, dilation=2)
    out.sum().backward()
    ref_inputs = [t.detach().clone().requires_grad_() for t in inputs]
    reference.dynamic_conv_norm_act(*ref_inputs, dilation=2).sum().backward()
    for i, (t, r) in enumerate(zip(inputs, ref_inputs)):
        if i in wanted:
            assert_close(t.grad, r.grad, F64, f"grad {i}")
        else:
            assert t.grad is None


def test_backward_op_skips_masked_gradients():
    x, w, scale, shift = (t.detach() for t in make_problem(2, 3, 7, 8, 4, (3, 3), F64))
    out, conv_out, mean, rstd = torch.ops.dyconv.dynamic_conv_norm_act(
        x, w, scale, shift, [1, 1], [1, 1], [1, 1], "layer", "relu", 1e-5
    )
    assert mean.shape == (2, 1) and rstd.shape == (2, 1)
    grads = torch.ops.dyconv.dynamic_conv_norm_act_backward(
        torch.ones_like(out), x, w, scale, shift, conv_out, mean, rstd,
        [1, 1], [1, 1], [1, 1], "layer", "relu", [False, True, False, False],
    )
    assert [g.numel() for g in grads] == [0, w.numel(), 0, 0]


def test_no_grad_inference_matches():
    x, w, scale, shift = make_problem(2, 3, 9, 8, 4, (3, 3), torch.float32)
    with torch.no_grad():
        out = dyconv.dynamic_conv_norm_act(x, w, scale, shift, dilation=3)
        ref = reference.dynamic_conv_norm_act(x, w, scale, shift, dilation=3)
    assert not out.requires_grad
    assert_close(out, ref, torch.float32, "output")
