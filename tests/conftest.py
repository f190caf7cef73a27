"""Shared test helpers: random op problems, tolerance-aware comparison, the training tests' cache."""
import importlib
import warnings

import pytest
import torch

# 16-bit: inputs exactly representable, float32 accumulation, outputs rounded once (and, through the fused op's
# backward, its saved conv output, mean and rstd): a few units of the dtype's rounding (2^-9 bfloat16, 2^-12 float16).
TOL = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float64: dict(rtol=1e-9, atol=1e-9),
       torch.bfloat16: dict(rtol=2e-2, atol=2e-2), torch.float16: dict(rtol=3e-3, atol=3e-3)}


def make_problem(B, Cin, H, W, Cout, kernel, dtype=torch.float64, seed=0, bias=False):
    """Random x, weight, scale, shift (and bias) that all require grad."""
    g = torch.Generator().manual_seed(seed)
    kH, kW = kernel
    x = torch.randn(B, Cin, H, W, generator=g, dtype=dtype)
    w = torch.randn(B, Cout, Cin, kH, kW, generator=g, dtype=dtype) / (Cin * kH * kW) ** 0.5
    scale = 1 + 0.5 * torch.randn(B, Cout, generator=g, dtype=dtype)
    shift = 0.5 * torch.randn(B, Cout, generator=g, dtype=dtype)
    tensors = [x, w, scale, shift] + ([torch.randn(B, Cout, generator=g, dtype=dtype)] if bias else [])
    return [t.requires_grad_() for t in tensors]


def assert_close(actual, expected, dtype, what=""):
    """Compare with the dtype's tolerance, scaled by the magnitude of the expected tensor."""
    tol = TOL[dtype]
    scale = max(1.0, expected.abs().max().item()) if expected.numel() else 1.0
    torch.testing.assert_close(
        actual, expected, rtol=tol["rtol"], atol=tol["atol"] * scale, msg=lambda m: f"{what}: {m}"
    )


@pytest.fixture
def two_threads():
    """Two intra-op threads for the test (kernels that split samples or blocks between threads), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def large_range_errors(B, C, H, W, dilation, convs, seed=3):
    """Float32 error of each dynamic_conv2d-like callable in `convs` (name -> conv(x, w, **kw), run
    as the caller's environment has it) on inputs and filters spanning 6 and 4 orders of magnitude
    per element, against the float64 reference: name -> [output, dx, dweight] errors, each
    max |float32 - float64| / max |float64| (the measure of the op's tolerance)."""
    from dyconv import reference

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, C, H, W, generator=g, dtype=torch.float64) * 10 ** (6 * torch.rand(B, C, H, W, generator=g) - 3)
    w = torch.randn(B, C, C, 3, 3, generator=g, dtype=torch.float64) * 10 ** (4 * torch.rand(B, C, C, 3, 3, generator=g) - 2)
    x.requires_grad_(), w.requires_grad_()
    kw = dict(padding="same", dilation=dilation)
    want = reference.dynamic_conv2d(x, w, **kw)
    grad = torch.randn(want.shape, generator=g, dtype=torch.float64)
    exp = (want, *torch.autograd.grad(want, (x, w), grad))
    errors = {}
    for name, conv in convs.items():
        xf, wf = x.detach().float().requires_grad_(), w.detach().float().requires_grad_()
        out = conv(xf, wf, **kw)
        got = (out, *torch.autograd.grad(out, (xf, wf), grad.float()))
        errors[name] = [((a.double() - b).abs().max() / b.abs().max()).item() for a, b in zip(got, exp)]
    return errors


@pytest.fixture(autouse=True)
def _deterministic_seed():
    torch.manual_seed(0)


def _without_torchscript_warnings(load) -> None:
    """Run ``load`` without torch 2.13's DeprecationWarning on every torch.jit.script / script_method call."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.script(_method)?` is deprecated", DeprecationWarning)
        load()


# torch's own TorchScript uses put 32 DeprecationWarnings into the test summary that are not this project's (it has
# no TorchScript): torch.utils.mkldnn, imported by torch.compile, defines its modules with torch.jit.script_method
# (14), and forward-mode AD compiles its jvp decompositions with torch.jit.script at its first use (18). They are
# loaded here quietly, so that a TorchScript warning left in the summary comes from somewhere else.
_without_torchscript_warnings(lambda: importlib.import_module("torch.utils.mkldnn"))  # 25 ms


@pytest.fixture(scope="session")
def torch_jvp_decompositions():
    """Forward-mode AD's decompositions, loaded quietly (1.3 s: only for the modules that use forward mode)."""
    _without_torchscript_warnings(torch.autograd.forward_ad._maybe_load_decompositions)


@pytest.fixture(scope="session")
def train_cache(tmp_path_factory):
    """One feature and classifier cache for every CLI test: the tiny set's features are extracted once."""
    return tmp_path_factory.mktemp("train-cache")


OPCHECK_PROBLEMS = 8  # len(opcheck_problems())


def opcheck_problems(device="cpu"):
    """(op overload, args) pairs covering all four ops, for torch.library.opcheck."""
    x, w, scale, shift, bias = (
        t.detach().to(device) for t in make_problem(2, 3, 7, 6, 4, (3, 3), torch.float64, bias=True)
    )
    grad = lambda *shape: torch.randn(*shape, dtype=torch.float64, device=device)  # noqa: E731
    rg = lambda t: t.clone().requires_grad_()  # noqa: E731
    geo = ([1, 1], [2, 2], [2, 2])
    ops = torch.ops.dyconv
    _, conv_out, mean, rstd = ops.dynamic_conv_norm_act(x, w, scale, shift, *geo, "instance", "sigmoid", 1e-5)
    return [
        (ops.dynamic_conv2d.default, (rg(x), rg(w), rg(bias), *geo)),
        (ops.dynamic_conv2d.default, (rg(x), w, None, [2, 1], [1, 0], [1, 2])),
        (ops.dynamic_conv2d_backward.default, (grad(2, 4, 7, 6), x, w, *geo, [True, True, True])),
        (ops.dynamic_conv2d_backward.default, (grad(2, 4, 7, 6), x, w, *geo, [False, True, False])),
        # differentiated itself (second-order gradients)
        (ops.dynamic_conv2d_backward.default, (rg(grad(2, 4, 7, 6)), rg(x), rg(w), *geo, [True, True, True])),
        (ops.dynamic_conv_norm_act.default, (rg(x), rg(w), rg(scale), rg(shift), *geo, "layer", "relu", 1e-5)),
        (ops.dynamic_conv_norm_act.default, (rg(x), w, scale, rg(shift), *geo, "none", "none", 1e-5)),
        (ops.dynamic_conv_norm_act_backward.default,
         (grad(2, 4, 7, 6), x, w, scale, shift, conv_out, mean, rstd, *geo, "instance", "sigmoid", [True] * 4)),
    ]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, train_cache):
    """A finished train.py run (SFE, one epoch, tiny set) for the classify and export tests."""
    from helpers.train_cli import train

    out = tmp_path_factory.mktemp("tiny-run") / "run"
    proc = train(out, train_cache, "--method", "sfe", "--epochs", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out
