"""Which CPU engine runs a call (dyconv.cpu_engine_for, cpu/engine_choice.h): the engine it names
is the one that ran (the outputs are bitwise those of that engine forced), DYCONV_CPU_ENGINE still
forces one where it applies, a shape class keeps its engine for the whole process, autotuning
(DYCONV_CPU_AUTOTUNE=1) picks an engine whose values match the reference, logs its decision and,
with DYCONV_CPU_AUTOTUNE_CACHE, hands it to the next process; Winograd F(4x4, 3x3) is chosen
automatically only under torch.set_float32_matmul_precision("high") or "medium"."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import dyconv
from conftest import make_problem

ROOT = Path(__file__).resolve().parents[1]
ENGINES = {"winograd", "winograd4", "direct", "shifted", "phases", "im2col"}

# (B, Cin, H, W, Cout, kernel, stride, padding, dilation)
CASES = [
    (2, 3, 12, 20, 8, (3, 3), 2, 1, 1),  # stride 2: im2col or phases
    (2, 6, 10, 30, 6, (3, 3), 1, "same", 2),  # few channels
    (3, 40, 12, 30, 40, (3, 3), 1, "same", 1),  # wide
    (2, 64, 5, 5, 64, (3, 3), 1, 1, 1),  # a small map
    (2, 8, 9, 11, 16, (1, 1), 1, 0, 1),  # pointwise
]


def _outputs(case, dtype=torch.float32):
    B, Cin, H, W, Cout, k, s, p, d = case
    x, w, _, _ = make_problem(B, Cin, H, W, Cout, k, dtype)
    out = dyconv.dynamic_conv2d(x, w, stride=s, padding=p, dilation=d)
    return [out.detach(), *torch.autograd.grad(out, (x, w), torch.ones_like(out))]


@pytest.mark.parametrize("case", CASES)
def test_the_named_engine_is_the_one_that_ran(case, monkeypatch):
    B, Cin, H, W, Cout, k, s, p, d = case
    name = dyconv.cpu_engine_for((B, Cin, H, W), (B, Cout, Cin, *k), stride=s, padding=p, dilation=d)
    assert name in ENGINES
    auto = _outputs(case)
    monkeypatch.setenv("DYCONV_CPU_ENGINE", name)
    forced = _outputs(case)
    for a, f in zip(auto, forced):
        assert torch.equal(a, f)
    assert dyconv.cpu_engine_for((B, Cin, H, W), (B, Cout, Cin, *k), stride=s, padding=p, dilation=d) == name


def test_the_rule_sends_pointwise_layers_to_im2col_unless_direct_taps_apply():
    """A 1x1 kernel has one tap: one GEMM on the input as it is (im2col), no padded copy (shifted); few channels
    still take the direct taps."""
    assert dyconv.cpu_engine_for((2, 112, 14, 14), (2, 672, 112, 1, 1)) == "im2col"
    assert dyconv.cpu_engine_for((2, 40, 16, 125), (2, 120, 40, 1, 1)) == "im2col"
    assert dyconv.cpu_engine_for((2, 10, 16, 16), (2, 8, 10, 1, 1)) == "direct"


def test_grouped_layers_name_their_engine(monkeypatch):
    """Groups run as samples of the engines (the named one is the one that ran); strided depthwise layers
    have their own kernel."""
    assert dyconv.cpu_engine_for((2, 6, 12, 12), (2, 6, 1, 3, 3), stride=2, padding=1, groups=6) == "depthwise"
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(2, 8, 10, 14, generator=g), torch.randn(2, 12, 4, 3, 3, generator=g)
    name = dyconv.cpu_engine_for(x, w, padding=1, groups=2)
    assert name in ENGINES
    auto = dyconv.dynamic_conv2d(x, w, padding=1, groups=2)
    monkeypatch.setenv("DYCONV_CPU_ENGINE", name)
    assert torch.equal(dyconv.dynamic_conv2d(x, w, padding=1, groups=2), auto)
    with pytest.raises(RuntimeError, match="does not match x and groups"):
        dyconv.cpu_engine_for(x, w, padding=1, groups=3)


def test_a_forced_engine_where_it_applies(monkeypatch):
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "winograd")
    assert dyconv.cpu_engine_for((2, 8, 10, 10), (2, 8, 8, 3, 3), padding=1) == "winograd"
    assert dyconv.cpu_engine_for((2, 8, 10, 10), (2, 8, 8, 3, 3), padding=1, stride=2) in ("im2col", "phases")
    assert dyconv.cpu_engine_for(torch.zeros(2, 8, 10, 10, dtype=torch.float64), (2, 8, 8, 3, 3), padding=1) == "winograd"
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "direct")  # float32 only
    assert dyconv.cpu_engine_for(torch.zeros(2, 8, 10, 10, dtype=torch.float64), (2, 8, 8, 5, 5), padding=2) != "direct"
    monkeypatch.setenv("DYCONV_CPU_ENGINE", "fastest")
    with pytest.raises(RuntimeError, match="DYCONV_CPU_ENGINE: expected auto, winograd, winograd4, direct, shifted, "
                                           "phases or im2col"):
        dyconv.cpu_engine_for((2, 8, 10, 10), (2, 8, 8, 3, 3), padding=1)


def test_a_shape_class_keeps_its_engine(monkeypatch):
    """Decided once: turning autotuning on later does not move a class already decided."""
    case = (2, 24, 9, 13, 20, (3, 3), 1, 1, 1)
    first = dyconv.cpu_engine_for((2, 24, 9, 13), (2, 20, 24, 3, 3), padding=1)
    before = _outputs(case)
    monkeypatch.setenv("DYCONV_CPU_AUTOTUNE", "1")
    assert dyconv.cpu_engine_for((2, 24, 9, 13), (2, 20, 24, 3, 3), padding=1) == first
    for a, b in zip(_outputs(case), before):
        assert torch.equal(a, b)


def test_small_maps_take_one_im2col_gemm_per_sample(monkeypatch):
    """The rule (no autotuning, no forcing): at 7x7 a sample's per-tap or Winograd GEMMs are as short as
    its 49 or 16 pixels or tiles."""
    monkeypatch.delenv("DYCONV_CPU_ENGINE", raising=False)
    monkeypatch.delenv("DYCONV_CPU_AUTOTUNE", raising=False)
    assert dyconv.cpu_engine_for((4, 512, 7, 7), (4, 512, 512, 3, 3), padding=1) == "im2col"


@pytest.fixture
def float32_precision():
    """Sets torch's float32 matmul precision for the test; restores it after."""
    before = torch.get_float32_matmul_precision()
    yield torch.set_float32_matmul_precision
    torch.set_float32_matmul_precision(before)


def test_winograd4_only_where_the_float32_precision_allows(float32_precision, monkeypatch, capfd):
    """The rule never takes F(4x4, 3x3); the autotuner times it only under "high" or "medium" precision, and the
    precision is part of the shape class (a class decided under "high" does not carry over to "highest")."""
    monkeypatch.delenv("DYCONV_CPU_ENGINE", raising=False)
    monkeypatch.setenv("DYCONV_LOG_ENGINE", "1")
    layer3 = ((16, 96, 40, 248), (16, 96, 96, 3, 3))
    float32_precision("high")
    assert dyconv.cpu_engine_for(*layer3, padding=4, dilation=4) == "winograd"
    assert f"96->96 40x248 k3x3 s1,1 p4,4 d4,4 t{torch.get_num_threads()} high (rule)" in capfd.readouterr().err
    monkeypatch.setenv("DYCONV_CPU_AUTOTUNE", "1")
    shape = ((2, 16, 9, 23), (2, 16, 16, 3, 3))
    for precision, timed in (("medium", True), ("highest", False), ("high", True)):
        float32_precision(precision)
        dyconv.cpu_engine_for(*shape, padding=3, dilation=3)
        log = capfd.readouterr().err
        suffix = "" if precision == "highest" else f" {precision}"
        assert f"16->16 9x23 k3x3 s1,1 p3,3 d3,3 t{torch.get_num_threads()}{suffix} (autotuned" in log, log
        assert (" winograd4 " in log) == timed, log


def test_bad_arguments():
    with pytest.raises(ValueError, match="cpu_engine_for: expected x"):
        dyconv.cpu_engine_for((2, 8, 10), (2, 8, 8, 3, 3))


AUTOTUNED = """
import torch, dyconv
from dyconv import reference
torch.set_num_threads(2)
g = torch.Generator().manual_seed(0)
x = torch.randn(3, 20, 11, 23, generator=g, requires_grad=True)
w = (torch.randn(3, 20, 20, 3, 3, generator=g) / 180 ** 0.5).requires_grad_()
out = dyconv.dynamic_conv2d(x, w, padding=2, dilation=2)
got = [out, *torch.autograd.grad(out, (x, w), torch.ones_like(out))]
ref = reference.dynamic_conv2d(x.double(), w.double(), padding=2, dilation=2)
want = [ref, *torch.autograd.grad(ref, (x, w), torch.ones_like(ref))]
for a, b in zip(got, want):
    torch.testing.assert_close(a.double(), b.double(), rtol=1e-4, atol=1e-4 * max(1.0, b.abs().max().item()))
print("ENGINE", dyconv.cpu_engine_for(x, w, padding=2, dilation=2))
print("SUM", float(sum(t.double().sum() for t in got)))
"""


def _autotuned(cache):
    env = {**os.environ, "DYCONV_CPU_AUTOTUNE": "1", "DYCONV_CPU_AUTOTUNE_CACHE": str(cache), "DYCONV_LOG_ENGINE": "1"}
    env.pop("DYCONV_CPU_ENGINE", None)
    proc = subprocess.run([sys.executable, "-c", AUTOTUNED], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    return lines[0].split()[1], lines[1], proc.stderr


def test_autotuning_logs_caches_and_hands_its_choice_on(tmp_path):
    cache = tmp_path / "engines.tsv"
    engine, sums, log = _autotuned(cache)
    assert engine in ENGINES
    assert f"dyconv: CPU engine {engine} for float32 B3 20->20 11x23 k3x3 s1,1 p2,2 d2,2 t2 (autotuned on 3 samples:" in log
    for name in ("winograd", "direct", "shifted", "im2col"):  # every engine that applies was timed
        assert f" {name} " in log.split("autotuned on")[1]
    assert " winograd4 " not in log  # but F(4x4, 3x3): torch's float32 matmul precision is "highest"
    rows = [line.split("\t") for line in cache.read_text().splitlines()]
    assert [r[1:] for r in rows] == [["float32 B3 20->20 11x23 k3x3 s1,1 p2,2 d2,2 t2", engine]]
    # The next process takes the same engine from the cache, without timing: bitwise the same results.
    engine2, sums2, log2 = _autotuned(cache)
    assert (engine2, sums2) == (engine, sums)
    assert f"dyconv: CPU engine {engine} for float32 B3 20->20 11x23 k3x3 s1,1 p2,2 d2,2 t2 (from {cache})" in log2
    assert len(cache.read_text().splitlines()) == 1
