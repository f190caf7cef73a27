"""Bad input gets a clear error naming the argument, expected and given values.

Each case runs through the public function (real kernel) and, for tensor
errors, also under FakeTensorMode (the fake kernel must reject it the same way).
"""
import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

import dyconv


def good(B=2, Cin=3, H=8, W=9, Cout=4, k=3, dtype=torch.float32):
    return dict(
        x=torch.randn(B, Cin, H, W, dtype=dtype),
        weight=torch.randn(B, Cout, Cin, k, k, dtype=dtype),
        scale=torch.ones(B, Cout, dtype=dtype),
        shift=torch.zeros(B, Cout, dtype=dtype),
    )


def fused(args, **kw):
    return dyconv.dynamic_conv_norm_act(args["x"], args["weight"], args["scale"], args["shift"], **kw)


def conv(args, bias=None, **kw):
    return dyconv.dynamic_conv2d(args["x"], args["weight"], bias, **kw)


TENSOR_CASES = [
    # (what is changed, function to call, expected message)
    ("x rank", lambda a: fused({**a, "x": a["x"][0]}), r"x must be a 4-D tensor .*expected 4 dims, got 3"),
    ("weight rank", lambda a: conv({**a, "weight": a["weight"][0]}), r"weight must be a 5-D tensor .*expected 5 dims, got 4"),
    ("batch mismatch", lambda a: fused({**a, "weight": a["weight"][:1]}), r"one filter bank per sample, expected weight.shape\[0\] == 2 .*got 1"),
    ("Cin mismatch", lambda a: conv({**a, "weight": a["weight"][:, :, :2]}), r"input channels must match x, expected weight.shape\[2\] == 3, got 2"),
    ("dtype mismatch", lambda a: fused({**a, "weight": a["weight"].double()}), r"weight must have the dtype of x, expected .*Float.*got .*Double|weight must have the dtype of x, expected torch.float32, got torch.float64"),
    ("integer dtype", lambda a: conv({**a, "x": a["x"].long(), "weight": a["weight"].long()}),
     r"x must have a floating point dtype, expected float32, float64, bfloat16 or float16, got (Long|torch.int64)"),
    ("float8 dtype", lambda a: conv({k: v.to(torch.float8_e4m3fn) for k, v in a.items()}),
     r"x must have a floating point dtype, expected float32, float64, bfloat16 or float16, got (Float8_e4m3fn|torch.float8_e4m3fn)"),
    ("scale shape", lambda a: fused({**a, "scale": a["scale"][:, :3]}), r"scale must have shape"),
    ("shift shape", lambda a: fused({**a, "shift": a["shift"][None]}), r"shift must have shape"),
    ("scale dtype", lambda a: fused({**a, "scale": a["scale"].double()}), r"scale must have the dtype of x"),
    ("bias shape", lambda a: conv(a, bias=torch.zeros(2, 5)), r"bias must have shape"),
    ("output too small", lambda a: conv(a, dilation=5), r"output size must be at least 1x1"),
    ("output too small, stride", lambda a: conv({**a, "x": a["x"][:, :, :2]}, stride=2), r"output size must be at least 1x1"),
]


@pytest.mark.parametrize("what,call,message", TENSOR_CASES, ids=[c[0] for c in TENSOR_CASES])
def test_bad_tensors(what, call, message):
    with pytest.raises(RuntimeError, match=message):
        call(good())


@pytest.mark.parametrize("what,call,message", TENSOR_CASES, ids=[c[0] for c in TENSOR_CASES])
def test_bad_tensors_fake_kernels(what, call, message):
    args = good()
    with FakeTensorMode() as mode:
        fake = {k: mode.from_tensor(v) for k, v in args.items()}
        with pytest.raises(RuntimeError, match=message):
            call(fake)


def test_different_devices():
    args = good()
    meta_weight = args["weight"].to("meta")
    with pytest.raises(RuntimeError, match=r"weight must be on the device of x, expected meta, got cpu"):
        dyconv.dynamic_conv_norm_act(args["x"].to("meta"), args["weight"], args["scale"], args["shift"])
    with pytest.raises(RuntimeError, match=r"on the device of x"):
        conv({**args, "weight": meta_weight})


ARG_CASES = [
    (dict(stride=0), r"stride must be >= 1, got \(0, 0\)"),
    (dict(dilation=(1, 0)), r"dilation must be >= 1, got \(1, 0\)"),
    (dict(padding=-1), r"padding must be >= 0, got \(-1, -1\)"),
    (dict(padding="same", stride=2), r'padding="same" requires stride 1'),
    (dict(padding="full"), r'padding must be an int, a pair of ints, "same" or "valid", got \'full\''),
    (dict(stride=(1, 2, 3)), r"stride must be an int or a pair of ints, got \(1, 2, 3\)"),
    (dict(dilation=1.5), r"dilation must be an int or a pair of ints, got 1.5"),
]


@pytest.mark.parametrize("kw,message", ARG_CASES, ids=[str(c[0]) for c in ARG_CASES])
def test_bad_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        fused(good(), **kw)
    with pytest.raises(ValueError, match=message):
        conv(good(), **kw)


@pytest.mark.parametrize(
    "kw,message",
    [
        (dict(norm="batch"), r"norm must be one of 'layer', 'instance', 'none', got 'batch'"),
        (dict(activation="gelu"), r"activation must be one of 'relu', 'sigmoid', 'none', got 'gelu'"),
        (dict(eps=0.0), r"eps must be a positive number, got 0.0"),
    ],
)
def test_bad_options(kw, message):
    with pytest.raises(ValueError, match=message):
        fused(good(), **kw)


def test_ops_reject_bad_options_directly():
    a = good()
    geo = ([1, 1], [1, 1], [1, 1])
    with pytest.raises(RuntimeError, match=r"norm must be one of layer, instance, none, got 'batch'"):
        torch.ops.dyconv.dynamic_conv_norm_act(a["x"], a["weight"], a["scale"], a["shift"], *geo, "batch", "relu", 1e-5)
    with pytest.raises(RuntimeError, match=r"padding must be two values >= 0"):
        torch.ops.dyconv.dynamic_conv2d(a["x"], a["weight"], None, [1, 1], [-1, 0], [1, 1])
