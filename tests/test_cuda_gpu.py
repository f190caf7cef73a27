"""The CUDA kernels on a real GPU: CUDA vs CPU kernels vs dyconv.reference,
gradcheck in float64, float16/bfloat16 within dtype-scaled tolerances, opcheck.

Marked ``cuda``; skipped without a GPU or in a build without the CUDA kernels
(build them with ``FORCE_CUDA=1 pip install --no-build-isolation -e .``).
The same kernel sources run without a GPU in tests/test_cuda_emulated.py.
"""
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import dyconv
from conftest import make_problem, opcheck_problems, OPCHECK_PROBLEMS
from dyconv import reference

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.skipif(not dyconv.cuda_available(),
                       reason="dyconv was built without CUDA kernels (rebuild with FORCE_CUDA=1)"),
]

# (B, Cin, H, W, Cout, kernel, stride, padding, dilation): partial tiles in every
# dimension, dilation wider than the input, stride 2, split-K wgrad, a paper-sized layer.
CASES = [
    (1, 3, 7, 9, 5, (3, 3), 1, 1, 1),
    (5, 2, 9, 11, 70, (3, 2), 1, (2, 1), (2, 3)),
    (5, 3, 5, 6, 4, (3, 3), 1, 4, 4),
    (2, 5, 11, 8, 3, (3, 3), 2, 1, 1),
    (1, 67, 12, 20, 6, (1, 3), (1, 2), (0, 1), 1),
    (4, 16, 40, 64, 32, (3, 3), 1, "same", 4),
]
# Error bound relative to max(1, largest reference value).
TOL = {torch.float64: 1e-9, torch.float32: 1e-4, torch.float16: 1.5e-2, torch.bfloat16: 8e-2}


def assert_close(actual, expected, dtype, what):
    assert actual.shape == expected.shape and actual.dtype == dtype, what
    a, e = actual.detach().double().cpu(), expected.detach().double().cpu()
    scale = max(1.0, e.abs().max().item()) if e.numel() else 1.0
    err = (a - e).abs().max().item() if e.numel() else 0.0
    assert err <= TOL[dtype] * scale, f"{what}: max abs error {err:.3g} (scale {scale:.3g})"


def cuda_leaves(tensors, dtype):
    return [t.detach().to("cuda", dtype).requires_grad_() for t in tensors]


def cpu_leaves(tensors):
    """float64 CPU copies of the (already dtype-rounded) CUDA inputs."""
    return [t.detach().cpu().double().requires_grad_() for t in tensors]


def run(fn, leaves, grad_seed=1, **kw):
    out = fn(*leaves, **kw)
    g = torch.Generator().manual_seed(grad_seed)
    grad = torch.randn(out.shape, generator=g, dtype=torch.float64).to(out.device, out.dtype)
    return out, torch.autograd.grad(out, leaves, grad)


def geometry(case):
    _, _, _, _, _, _, stride, padding, dilation = case
    return dict(stride=stride, padding=padding, dilation=dilation)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", CASES)
def test_conv2d_cuda_matches_cpu_kernel_and_reference(case, dtype):
    B, Cin, H, W, Cout, kernel, *_ = case
    x, w, _, _, bias = make_problem(B, Cin, H, W, Cout, kernel, dtype, bias=True)
    kw = geometry(case)
    out, grads = run(dyconv.dynamic_conv2d, cuda_leaves((x, w, bias), dtype), **kw)
    cpu_out, cpu_grads = run(dyconv.dynamic_conv2d, [t.detach().requires_grad_() for t in (x, w, bias)], **kw)
    ref_out, ref_grads = run(reference.dynamic_conv2d, cpu_leaves((x, w, bias)), **kw)
    for got, cpu, ref, what in zip((out, *grads), (cpu_out, *cpu_grads), (ref_out, *ref_grads),
                                   ("out", "dx", "dweight", "dbias")):
        assert got.is_cuda
        assert_close(got, ref, dtype, f"{what} vs reference")
        assert_close(got, cpu.to(dtype), dtype, f"{what} vs CPU kernel")


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "none"])
@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
@pytest.mark.parametrize("case", CASES)
def test_fused_cuda_matches_cpu_kernel_and_reference(case, norm, activation):
    B, Cin, H, W, Cout, kernel, *_ = case
    x, w, scale, shift = make_problem(B, Cin, H, W, Cout, kernel, torch.float32)
    kw = dict(geometry(case), norm=norm, activation=activation)
    out, grads = run(dyconv.dynamic_conv_norm_act, cuda_leaves((x, w, scale, shift), torch.float32), **kw)
    cpu = [t.detach().requires_grad_() for t in (x, w, scale, shift)]
    cpu_out, cpu_grads = run(dyconv.dynamic_conv_norm_act, cpu, **kw)
    ref_out, ref_grads = run(reference.dynamic_conv_norm_act, cpu_leaves((x, w, scale, shift)), **kw)
    for got, c, ref, what in zip((out, *grads), (cpu_out, *cpu_grads), (ref_out, *ref_grads),
                                 ("out", "dx", "dweight", "dscale", "dshift")):
        assert_close(got, ref, torch.float32, f"{what} vs reference")
        assert_close(got, c, torch.float32, f"{what} vs CPU kernel")


@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
def test_fused_statistics_match_cpu_kernel(norm):
    x, w, scale, shift = (t.detach() for t in make_problem(3, 4, 13, 21, 70, (3, 3), torch.float64))
    geo = ([1, 1], [2, 2], [2, 2])
    cuda = torch.ops.dyconv.dynamic_conv_norm_act(x.cuda(), w.cuda(), scale.cuda(), shift.cuda(), *geo,
                                                  norm, "sigmoid", 1e-5)
    cpu = torch.ops.dyconv.dynamic_conv_norm_act(x, w, scale, shift, *geo, norm, "sigmoid", 1e-5)
    for got, want, what in zip(cuda, cpu, ("out", "conv_out", "mean", "rstd")):
        assert_close(got, want, torch.float64, what)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "none"])
@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
def test_gradcheck_fused_float64_cuda(norm, activation):
    inputs = cuda_leaves(make_problem(2, 2, 5, 6, 3, (3, 3), torch.float64, seed=3), torch.float64)
    kw = dict(padding="same", dilation=2, norm=norm, activation=activation)
    assert gradcheck(lambda *a: dyconv.dynamic_conv_norm_act(*a, **kw), inputs, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("stride,padding,dilation", [(1, "same", 1), (2, 1, 1), (1, (2, 0), (2, 1))])
def test_gradcheck_conv2d_float64_cuda(stride, padding, dilation):
    x, w, _, _, bias = make_problem(2, 2, 6, 7, 3, (3, 2), torch.float64, seed=4, bias=True)
    inputs = cuda_leaves((x, w, bias), torch.float64)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    assert gradcheck(lambda *a: dyconv.dynamic_conv2d(*a, **kw), inputs, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
def test_gradgradcheck_float64_cuda(norm):
    """Second-order gradients on the CUDA kernels (dyconv/_autograd.py; CPU: tests/test_ops_double_backward.py)."""
    x, w, scale, shift, bias = cuda_leaves(make_problem(2, 2, 6, 7, 3, (3, 2), torch.float64, seed=4, bias=True),
                                           torch.float64)
    kw = dict(stride=(2, 1), padding=1, dilation=(1, 2))
    assert gradgradcheck(lambda *a: dyconv.dynamic_conv2d(*a, **kw), (x, w, bias), eps=1e-6, atol=1e-6,
                         fast_mode=True)
    assert gradgradcheck(lambda *a: dyconv.dynamic_conv_norm_act(*a, norm=norm, activation="sigmoid", **kw),
                         (x, w, scale, shift), eps=1e-6, atol=1e-6, fast_mode=True)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("case", [CASES[1], CASES[5]])
@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
def test_half_and_bfloat16_storage(case, norm, dtype):
    B, Cin, H, W, Cout, kernel, *_ = case
    leaves = cuda_leaves(make_problem(B, Cin, H, W, Cout, kernel, torch.float32), dtype)
    kw = dict(geometry(case), norm=norm, activation="sigmoid")
    out, grads = run(dyconv.dynamic_conv_norm_act, leaves, **kw)
    ref_out, ref_grads = run(reference.dynamic_conv_norm_act, cpu_leaves(leaves), **kw)
    for got, ref, what in zip((out, *grads), (ref_out, *ref_grads), ("out", "dx", "dweight", "dscale", "dshift")):
        assert_close(got, ref, dtype, f"{what} ({dtype})")
    x, w, bias = leaves[0], leaves[1], leaves[3]
    out, grads = run(dyconv.dynamic_conv2d, [x, w, bias], **geometry(case))
    ref_out, ref_grads = run(reference.dynamic_conv2d, cpu_leaves((x, w, bias)), **geometry(case))
    for got, ref, what in zip((out, *grads), (ref_out, *ref_grads), ("conv out", "dx", "dweight", "dbias")):
        assert_close(got, ref, dtype, f"{what} ({dtype})")


def test_noncontiguous_inputs_and_empty_batch():
    x, w, scale, shift = (t.detach().cuda() for t in make_problem(3, 4, 9, 10, 5, (3, 3), torch.float32))
    xt = x.transpose(2, 3).contiguous().transpose(2, 3)  # same values, other strides
    assert not xt.is_contiguous()
    got = dyconv.dynamic_conv_norm_act(xt, w, scale, shift, dilation=2)
    want = dyconv.dynamic_conv_norm_act(x, w, scale, shift, dilation=2)
    assert_close(got, want, torch.float32, "non-contiguous x")
    empty = dyconv.dynamic_conv2d(x[:0], w[:0], padding=1)
    assert empty.shape == (0, 5, 9, 10) and empty.is_cuda


@pytest.mark.parametrize("index", range(OPCHECK_PROBLEMS))
def test_opcheck_cuda(index):
    op, args = opcheck_problems("cuda")[index]
    torch.library.opcheck(op, args)


# ---------------------------------------------------------------- groups, depthwise, transposed

# (B, Cin, H, W, Cout, kernel, stride, padding, dilation, groups): the GEMMs on the folded
# problem (two channel tiles per group, stride 2), the depthwise kernels (k3 dilation 2,
# k5 with channel multiplier 2 and stride 2, k7; several tap batches of the wgrad).
GROUP_CASES = [
    (2, 4, 7, 9, 140, (3, 2), 1, (2, 1), (2, 3), 2),
    (5, 6, 11, 8, 9, (3, 3), 2, 1, 1, 3),
    (5, 4, 9, 10, 4, (3, 3), 1, 2, 2, 4),
    (1, 3, 11, 9, 6, (5, 5), 2, 2, 1, 3),
    (2, 5, 16, 21, 5, (7, 7), 1, 3, 1, 5),
]


def group_problem(case, dtype, bias=False):
    B, Cin, H, W, Cout, kernel, *_, groups = case
    tensors = make_problem(B, Cin // groups, H, W, Cout, kernel, dtype, bias=bias)
    x = torch.randn(B, Cin, H, W, generator=torch.Generator().manual_seed(7), dtype=dtype).requires_grad_()
    return [x] + tensors[1:]


def group_kw(case):
    _, _, _, _, _, _, stride, padding, dilation, groups = case
    return dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@pytest.mark.parametrize("case", GROUP_CASES)
def test_groups_conv2d_cuda_matches_cpu_kernel_and_reference(case):
    x, w, _, _, bias = group_problem(case, torch.float32, bias=True)
    kw = group_kw(case)
    out, grads = run(dyconv.dynamic_conv2d, cuda_leaves((x, w, bias), torch.float32), **kw)
    cpu_out, cpu_grads = run(dyconv.dynamic_conv2d, [t.detach().requires_grad_() for t in (x, w, bias)], **kw)
    ref_out, ref_grads = run(reference.dynamic_conv2d, cpu_leaves((x, w, bias)), **kw)
    for got, cpu, ref, what in zip((out, *grads), (cpu_out, *cpu_grads), (ref_out, *ref_grads),
                                   ("out", "dx", "dweight", "dbias")):
        assert got.is_cuda
        assert_close(got, ref, torch.float32, f"{what} vs reference")
        assert_close(got, cpu, torch.float32, f"{what} vs CPU kernel")


@pytest.mark.parametrize("norm,activation", [("layer", "relu"), ("instance", "sigmoid"), ("none", "relu")])
@pytest.mark.parametrize("case", GROUP_CASES)
def test_groups_fused_cuda_matches_reference(case, norm, activation):
    leaves = group_problem(case, torch.float32)
    kw = dict(group_kw(case), norm=norm, activation=activation)
    out, grads = run(dyconv.dynamic_conv_norm_act, cuda_leaves(leaves, torch.float32), **kw)
    ref_out, ref_grads = run(reference.dynamic_conv_norm_act, cpu_leaves(leaves), **kw)
    for got, ref, what in zip((out, *grads), (ref_out, *ref_grads), ("out", "dx", "dweight", "dscale", "dshift")):
        assert_close(got, ref, torch.float32, f"{what} vs reference")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("case", [GROUP_CASES[1], GROUP_CASES[3]])
def test_groups_half_and_bfloat16_storage(case, dtype):
    leaves = cuda_leaves(group_problem(case, torch.float32), dtype)
    kw = dict(group_kw(case), norm="instance", activation="sigmoid")
    out, grads = run(dyconv.dynamic_conv_norm_act, leaves, **kw)
    ref_out, ref_grads = run(reference.dynamic_conv_norm_act, cpu_leaves(leaves), **kw)
    for got, ref, what in zip((out, *grads), (ref_out, *ref_grads), ("out", "dx", "dweight", "dscale", "dshift")):
        assert_close(got, ref, dtype, f"{what} ({dtype})")


# (B, Cin, H, W, Cout, k, stride, padding, output_padding, dilation, groups) of the transposed conv
TRANSPOSED_CASES = [
    (1, 5, 4, 5, 70, 3, 2, 1, 1, 1, 1),
    (5, 4, 3, 4, 6, 3, 2, (1, 0), (1, 0), 1, 2),
    (2, 6, 5, 4, 3, 3, 1, (2, 1), 0, 2, 3),
    (2, 4, 5, 6, 4, 3, 2, 1, 1, 1, 4),
    (1, 3, 4, 5, 6, 5, (1, 2), (2, 1), (0, 1), (2, 1), 3),
    (4, 16, 32, 32, 16, 3, 2, 1, 1, 1, 1),
]


def transposed_problem(case, dtype):
    B, Cin, H, W, Cout, k, *_, groups = case
    g = torch.Generator().manual_seed(8)
    x = torch.randn(B, Cin, H, W, generator=g, dtype=dtype)
    w = torch.randn(B, Cin, Cout // groups, k, k, generator=g, dtype=dtype) / (Cin // groups * k * k) ** 0.5
    bias = torch.randn(B, Cout, generator=g, dtype=dtype)
    return [t.requires_grad_() for t in (x, w, bias)]


def transposed_kw(case):
    _, _, _, _, _, _, stride, padding, output_padding, dilation, groups = case
    return dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", TRANSPOSED_CASES)
def test_conv_transpose2d_cuda_matches_cpu_kernel_and_reference(case, dtype):
    leaves = transposed_problem(case, dtype)
    kw = transposed_kw(case)
    out, grads = run(dyconv.dynamic_conv_transpose2d, cuda_leaves(leaves, dtype), **kw)
    cpu_out, cpu_grads = run(dyconv.dynamic_conv_transpose2d, [t.detach().requires_grad_() for t in leaves], **kw)
    ref_out, ref_grads = run(reference.dynamic_conv_transpose2d, cpu_leaves(leaves), **kw)
    for got, cpu, ref, what in zip((out, *grads), (cpu_out, *cpu_grads), (ref_out, *ref_grads),
                                   ("out", "dx", "dweight", "dbias")):
        assert got.is_cuda
        assert_close(got, ref, dtype, f"{what} vs reference")
        assert_close(got, cpu, dtype, f"{what} vs CPU kernel")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_conv_transpose2d_half_and_bfloat16_storage(dtype):
    leaves = cuda_leaves(transposed_problem(TRANSPOSED_CASES[1], torch.float32), dtype)
    kw = transposed_kw(TRANSPOSED_CASES[1])
    out, grads = run(dyconv.dynamic_conv_transpose2d, leaves, **kw)
    ref_out, ref_grads = run(reference.dynamic_conv_transpose2d, cpu_leaves(leaves), **kw)
    for got, ref, what in zip((out, *grads), (ref_out, *ref_grads), ("out", "dx", "dweight", "dbias")):
        assert_close(got, ref, dtype, f"{what} ({dtype})")


@pytest.mark.parametrize("which", ["depthwise", "grouped", "transposed"])
def test_gradcheck_groups_and_transposed_float64_cuda(which):
    if which == "transposed":
        case = TRANSPOSED_CASES[4]
        inputs = cuda_leaves(transposed_problem(case, torch.float64), torch.float64)
        fn = lambda *a: dyconv.dynamic_conv_transpose2d(*a, **transposed_kw(case))  # noqa: E731
    else:
        case = GROUP_CASES[3] if which == "depthwise" else (2, 4, 5, 6, 6, (3, 2), 2, 1, (1, 2), 2)
        x, w, scale, shift = cuda_leaves(group_problem(case, torch.float64), torch.float64)
        inputs = (x, w, scale, shift)
        fn = lambda *a: dyconv.dynamic_conv_norm_act(*a, norm="layer", activation="sigmoid", **group_kw(case))  # noqa: E731
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-6)


def test_groups_batch_limit_names_the_numbers():
    x = torch.randn(2, 8, 5, 5, device="cuda")
    w = torch.randn(2, 4, 2, 3, 3, device="cuda")
    dyconv.dynamic_conv2d(x, w, groups=4)  # within the limit
    # 2 * 4 = 8 folded samples is fine; a batch of 32768 with 4 groups is not (the GEMM grid's z)
    xb = torch.randn(32768, 8, 1, 1, device="cuda")
    wb = torch.randn(32768, 4, 2, 1, 1, device="cuda")
    with pytest.raises(RuntimeError, match=r"batch \* groups up to 65535 .* got B \* groups = 32768 \* 4 = 131072"):
        dyconv.dynamic_conv2d(xb, wb, groups=4)
    # depthwise has no such limit
    xd = torch.randn(32768, 4, 1, 1, device="cuda")
    wd = torch.randn(32768, 4, 1, 1, 1, device="cuda")
    y = dyconv.dynamic_conv2d(xd, wd, groups=4)
    assert_close(y, xd * wd.reshape(32768, 4, 1, 1), torch.float32, "depthwise 1x1 at B * groups > 65535")


def _to_cuda(a):
    if not isinstance(a, torch.Tensor):
        return a
    t = a.detach().cuda()
    return t.requires_grad_() if a.requires_grad else t


@pytest.mark.parametrize("which", ["depthwise conv2d", "grouped norm_act backward", "grouped transposed"])
def test_opcheck_groups_and_transposed_cuda(which):
    from test_ops_groups import _opcheck_cases

    if which == "grouped transposed":
        x, w, bias = (torch.randn(*shape, dtype=torch.float64) for shape in ((2, 4, 4, 5), (2, 4, 3, 3, 3), (2, 6)))
        op, args = torch.ops.dyconv.dynamic_conv_transpose2d.default, (
            x.requires_grad_(), w.requires_grad_(), bias.requires_grad_(), [2, 2], [1, 1], [1, 0], [1, 1], 2)
    else:
        op, args = _opcheck_cases()[1 if which == "depthwise conv2d" else 5]
    torch.library.opcheck(op, tuple(_to_cuda(a) for a in args))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("op", ["conv", "fused", "transposed"])
def test_channels_last_kept_on_cuda(op, dtype):
    """A channels_last x gives a channels_last output and input gradient, as on CPU and as F.conv2d does;
    the values are those of the contiguous call."""
    if op == "transposed":
        leaves = transposed_problem(TRANSPOSED_CASES[0], torch.float32)[:2]
        fn = lambda x, w: dyconv.dynamic_conv_transpose2d(x, w, **transposed_kw(TRANSPOSED_CASES[0]))  # noqa: E731
    else:
        x, w, scale, shift = make_problem(2, 8, 9, 10, 12, (3, 3), torch.float32, seed=3)[:4]
        leaves = [x, w]
        fn = (lambda x, w: dyconv.dynamic_conv2d(x, w, padding=1)) if op == "conv" else \
            (lambda x, w: dyconv.dynamic_conv_norm_act(x, w, scale.to(x), shift.to(x), padding=1))  # noqa: E731
    x, w = cuda_leaves(leaves, dtype)
    x_cl = x.detach().to(memory_format=torch.channels_last).requires_grad_()
    out, (dx, dw) = run(fn, [x, w])
    out_cl, (dx_cl, dw_cl) = run(fn, [x_cl, w])
    assert out_cl.is_contiguous(memory_format=torch.channels_last)
    assert dx_cl.is_contiguous(memory_format=torch.channels_last)
    for got, want, what in ((out_cl, out, "out"), (dx_cl, dx, "dx"), (dw_cl, dw, "dweight")):
        assert torch.equal(got, want), f"{op} {dtype} {what}: channels_last differs from contiguous"
