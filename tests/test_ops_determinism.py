"""torch.use_deterministic_algorithms(True) and the ops: the same inputs give bitwise the same outputs
and gradients, also when samples are split between threads (more threads than samples)."""
import re
from pathlib import Path

import pytest
import torch

import dyconv
from conftest import make_problem

# (B, Cin, H, W, Cout, kernel, stride, padding, dilation, engine): the im2col engine (stride 2), the shifted
# engine with direct taps and with a GEMM per tap, and the Winograd engine (2x2 and 4x4 tiles), each forced
# (which one the automatic choice takes depends on the CPU: cpu/engine_rule.h), one sample or an uneven batch
# over 8 threads; and the automatic choice.
CASES = [
    (1, 3, 32, 100, 8, (3, 3), 2, 1, 1, "im2col"),
    (3, 2, 20, 60, 5, (3, 3), 1, "same", 2, "direct"),
    (1, 6, 24, 50, 8, (3, 3), 1, "same", 2, "direct"),
    (3, 5, 20, 40, 6, (3, 3), 1, "same", 1, "direct"),
    (1, 32, 14, 30, 20, (3, 3), 1, "same", 2, "shifted"),
    (3, 32, 12, 30, 20, (3, 3), 1, "same", 1, "shifted"),
    (3, 40, 12, 30, 40, (3, 3), 1, "same", 4, "winograd"),
    (3, 40, 12, 30, 40, (3, 3), 1, "same", 4, "winograd4"),
    (3, 40, 12, 30, 40, (3, 3), 1, "same", 4, "auto"),
]
REPEATS = 6


@pytest.fixture
def deterministic_many_threads():
    threads, mode = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(8)  # more threads than samples: the kernels split samples between threads
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(mode)
    torch.set_num_threads(threads)


def _run(fn, inputs, device="cpu"):
    leaves = [t.detach().to(device).requires_grad_() for t in inputs]
    out = fn(*leaves)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype).to(device)
    return [out.detach(), *torch.autograd.grad(out, leaves, g)]


def _assert_bitwise_repeatable(fn, inputs, device="cpu"):
    first = _run(fn, inputs, device)
    for repeat in range(REPEATS - 1):
        for i, (a, b) in enumerate(zip(_run(fn, inputs, device), first)):
            assert torch.equal(a, b), f"repeat {repeat + 1}: result {i} differs from the first run"


@pytest.mark.parametrize("case", CASES)
def test_cpu_kernels_are_bitwise_repeatable(case, deterministic_many_threads, monkeypatch):
    B, Cin, H, W, Cout, k, s, p, d, engine = case
    monkeypatch.setenv("DYCONV_CPU_ENGINE", engine)
    x, w, scale, shift, bias = make_problem(B, Cin, H, W, Cout, k, torch.float32, bias=True)
    geo = dict(stride=s, padding=p, dilation=d)
    _assert_bitwise_repeatable(lambda *a: dyconv.dynamic_conv2d(*a, **geo), (x, w, bias))
    _assert_bitwise_repeatable(lambda *a: dyconv.dynamic_conv_norm_act(*a, **geo, norm="layer"), (x, w, scale, shift))


def test_cuda_kernels_use_no_atomics():
    """The CUDA passes reduce in a fixed order (no atomics), so they need no alertNotDeterministic in
    csrc/cuda/dynamic_conv_glue.cpp. A kernel that starts using atomics must add one there (and the
    README must say which pass is not deterministic)."""
    sources = [f for f in Path(dyconv.__file__).parents[1].glob("csrc/cuda/*") if f.suffix in (".cu", ".cuh", ".h")]
    assert sources
    glue = (Path(dyconv.__file__).parents[1] / "csrc/cuda/dynamic_conv_glue.cpp").read_text()
    for f in sources:
        uses = re.findall(r"\batomic\w*\s*\(", f.read_text())
        assert not uses or "alertNotDeterministic" in glue, (
            f"{f.name} uses {sorted(set(uses))}: a non-deterministic reduction; expected "
            "at::globalContext().alertNotDeterministic(...) for that pass in dynamic_conv_glue.cpp, got none")


@pytest.mark.cuda
@pytest.mark.skipif(not (torch.cuda.is_available() and dyconv.cuda_available()),
                    reason="needs a CUDA GPU and a build with the CUDA kernels")
@pytest.mark.parametrize("case", CASES)
def test_cuda_kernels_are_bitwise_repeatable(case):
    B, Cin, H, W, Cout, k, s, p, d, _ = case
    x, w, scale, shift, bias = make_problem(B, Cin, H, W, Cout, k, torch.float32, bias=True)
    geo = dict(stride=s, padding=p, dilation=d)
    mode = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        _assert_bitwise_repeatable(lambda *a: dyconv.dynamic_conv2d(*a, **geo), (x, w, bias), "cuda")
        _assert_bitwise_repeatable(lambda *a: dyconv.dynamic_conv_norm_act(*a, **geo, norm="instance"),
                                   (x, w, scale, shift), "cuda")
    finally:
        torch.use_deterministic_algorithms(mode)
