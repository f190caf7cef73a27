"""The CUDA kernels of csrc/cuda/ compiled as host C++ through the block
emulator (csrc/cuda/emulation/cuda_emulator.h), callable on CPU tensors.

``load()`` compiles the kernel sources with g++ (cached under
build/cuda_emulation/, keyed by the sources) and returns an ``Emulated``
object whose methods mirror the dyconv ops (same arguments, same
outputs; the backward ops and dynamic_conv_transpose2d included) and play the part of the torch glue (csrc/cuda/dynamic_conv_glue.cpp):
allocate the outputs and the workspace, call the launcher. Outputs are
pre-filled with NaN, so an element a kernel fails to write shows up.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"
KERNELS = sorted((CSRC / "cuda").glob("*.cu"))
BINDINGS = CSRC / "cuda" / "emulation" / "bindings.cpp"
FLAGS = ["-std=c++20", "-O2", "-fPIC", "-pthread", "-Wall", "-DDYCONV_CUDA_EMULATION", f"-I{CSRC}"]

DTYPES = {torch.float32: 0, torch.float64: 1, torch.float16: 2, torch.bfloat16: 3}
NORMS = {"layer": 0, "instance": 1, "none": 2}
ACTS = {"relu": 0, "sigmoid": 1, "none": 2}


class ConvDims(ctypes.Structure):
    """csrc/cuda/launchers.h ConvDims."""

    _fields_ = [(name, ctypes.c_int) for name in (
        "B", "Cin", "H", "W", "Cout", "kH", "kW", "sH", "sW", "pH", "pW", "dH", "dW", "Hout", "Wout",
        "groups")]


def _sources_key() -> str:
    h = hashlib.sha256(" ".join(FLAGS).encode())
    headers = sorted((CSRC / "cuda").rglob("*.h")) + sorted((CSRC / "cuda").rglob("*.cuh"))
    for path in KERNELS + [BINDINGS] + headers:
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def build(out_dir: Path | None = None) -> Path:
    """Compile (or reuse) the emulation library; returns its path."""
    out_dir = out_dir or ROOT / "build" / "cuda_emulation"
    lib = out_dir / f"libdyconv_cuda_emu_{_sources_key()}.so"
    if lib.exists():
        return lib
    gxx = shutil.which(os.environ.get("CXX", "g++")) or "g++"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        def compile_one(src: Path) -> Path:
            obj = Path(tmp) / (src.name + ".o")
            lang = ["-x", "c++"] if src.suffix == ".cu" else []
            cmd = [gxx, *FLAGS, *lang, "-c", str(src), "-o", str(obj)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"emulation build failed: {' '.join(cmd)}\n{done.stderr}")
            return obj

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            objs = list(pool.map(compile_one, KERNELS + [BINDINGS]))
        tmp_lib = Path(tmp) / lib.name
        cmd = [gxx, "-shared", "-pthread", *map(str, objs), "-o", str(tmp_lib)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"emulation link failed: {' '.join(cmd)}\n{done.stderr}")
        os.replace(tmp_lib, lib)
    return lib


def _ptr(t):
    return ctypes.c_void_p(t.data_ptr() if t is not None and t.numel() > 0 else None)


def _nan_like(shape, like):
    return torch.full(shape, float("nan"), dtype=like.dtype)


class Emulated:
    """The dyconv ops, run by the emulated CUDA kernels (CPU tensors)."""

    def __init__(self, lib_path: Path):
        self.lib = ctypes.CDLL(str(lib_path))
        if self.lib.emu_conv_dims_size() != ctypes.sizeof(ConvDims):
            raise RuntimeError("ConvDims layout differs between launchers.h and tests/helpers/cuda_emulation.py")
        for name in ("emu_conv_backward_workspace_bytes", "emu_conv_norm_act_forward_workspace_bytes"):
            getattr(self.lib, name).restype = ctypes.c_longlong
        self.lib.emu_conv_norm_act_forward.argtypes = (
            [ctypes.c_int, ctypes.POINTER(ConvDims)] + [ctypes.c_void_p] * 4
            + [ctypes.c_int, ctypes.c_int, ctypes.c_double] + [ctypes.c_void_p] * 5)
        self.lib.emu_float_to_half.argtypes = [ctypes.c_float]
        self.lib.emu_float_to_bf16.argtypes = [ctypes.c_float]
        self.lib.emu_half_to_float.restype = ctypes.c_float
        self.lib.emu_bf16_to_float.restype = ctypes.c_float

    @staticmethod
    def dims(x, weight, stride, padding, dilation, groups=1) -> ConvDims:
        B, Cin, H, W = x.shape
        _, Cout, _, kH, kW = weight.shape
        Hout = (H + 2 * padding[0] - dilation[0] * (kH - 1) - 1) // stride[0] + 1
        Wout = (W + 2 * padding[1] - dilation[1] * (kW - 1) - 1) // stride[1] + 1
        return ConvDims(B, Cin, H, W, Cout, kH, kW, *stride, *padding, *dilation, Hout, Wout, groups)

    @staticmethod
    def transpose_dims(x, weight, stride, padding, output_padding, dilation, groups=1) -> ConvDims:
        """The convolution that dynamic_conv_transpose2d(x, weight) transposes (csrc/checks.cpp)."""
        B, Cout, Hout, Wout = x.shape  # that convolution's output
        _, _, Cin_g, kH, kW = weight.shape
        H = (Hout - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kH - 1) + output_padding[0] + 1
        W = (Wout - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kW - 1) + output_padding[1] + 1
        return ConvDims(B, Cin_g * groups, H, W, Cout, kH, kW, *stride, *padding, *dilation, Hout, Wout,
                        groups)

    def _check(self, rc, what):
        if rc != 0:
            raise RuntimeError(f"emulated {what} returned cudaError {rc}")

    def dynamic_conv2d(self, x, weight, bias, stride, padding, dilation, groups=1):
        d = self.dims(x, weight, stride, padding, dilation, groups)
        y = _nan_like((d.B, d.Cout, d.Hout, d.Wout), x)
        rc = self.lib.emu_conv2d_forward(DTYPES[x.dtype], ctypes.byref(d), _ptr(x.contiguous()),
                                         _ptr(weight.contiguous()),
                                         _ptr(None if bias is None else bias.contiguous()), _ptr(y))
        self._check(rc, "conv2d_forward")
        return y

    def _workspace(self, nbytes):
        return torch.full((max(int(nbytes), 1),), 255, dtype=torch.uint8)  # garbage, not zeros

    def dynamic_conv2d_backward(self, grad_out, x, weight, stride, padding, dilation, mask, groups=1):
        d = self.dims(x, weight, stride, padding, dilation, groups)
        dt = DTYPES[x.dtype]
        dx = _nan_like(x.shape, x) if mask[0] else None
        dw = _nan_like(weight.shape, x) if mask[1] else None
        db = _nan_like((d.B, d.Cout), x) if mask[2] else None
        ws = self._workspace(self.lib.emu_conv_backward_workspace_bytes(dt, ctypes.byref(d)))
        rc = self.lib.emu_conv2d_backward(dt, ctypes.byref(d), _ptr(grad_out.contiguous()),
                                          _ptr(x.contiguous()), _ptr(weight.contiguous()),
                                          _ptr(dx), _ptr(dw), _ptr(db), _ptr(ws))
        self._check(rc, "conv2d_backward")
        return dx, dw, db

    def dynamic_conv_norm_act(self, x, weight, scale, shift, stride, padding, dilation, norm,
                              activation, eps, groups=1):
        d = self.dims(x, weight, stride, padding, dilation, groups)
        dt = DTYPES[x.dtype]
        G = {"layer": 1, "instance": d.Cout, "none": 0}[norm]
        out = _nan_like((d.B, d.Cout, d.Hout, d.Wout), x)
        y = _nan_like(out.shape, x)
        mean, rstd = _nan_like((d.B, G), x), _nan_like((d.B, G), x)
        ws = self._workspace(self.lib.emu_conv_norm_act_forward_workspace_bytes(
            dt, ctypes.byref(d), NORMS[norm]))
        rc = self.lib.emu_conv_norm_act_forward(
            dt, ctypes.byref(d), _ptr(x.contiguous()), _ptr(weight.contiguous()),
            _ptr(scale.contiguous()), _ptr(shift.contiguous()), NORMS[norm], ACTS[activation],
            float(eps), _ptr(out), _ptr(y), _ptr(mean), _ptr(rstd), _ptr(ws))
        self._check(rc, "conv_norm_act_forward")
        return out, y, mean, rstd

    def dynamic_conv_norm_act_backward(self, grad_out, x, weight, scale, shift, conv_out, mean,
                                       rstd, stride, padding, dilation, norm, activation, mask,
                                       groups=1):
        d = self.dims(x, weight, stride, padding, dilation, groups)
        dt = DTYPES[x.dtype]
        outs = [_nan_like(t.shape, x) if m else None
                for t, m in zip((x, weight, scale, shift), mask)]
        ws = self._workspace(self.lib.emu_conv_backward_workspace_bytes(dt, ctypes.byref(d)))
        rc = self.lib.emu_conv_norm_act_backward(
            dt, ctypes.byref(d), _ptr(grad_out.contiguous()), _ptr(x.contiguous()),
            _ptr(weight.contiguous()), _ptr(scale.contiguous()), _ptr(shift.contiguous()),
            _ptr(conv_out.contiguous()), _ptr(mean.contiguous()), _ptr(rstd.contiguous()),
            NORMS[norm], ACTS[activation], *map(_ptr, outs), _ptr(ws))
        self._check(rc, "conv_norm_act_backward")
        return tuple(outs)

    def dynamic_conv_transpose2d(self, x, weight, bias, stride, padding, output_padding, groups,
                                 dilation):
        d = self.transpose_dims(x, weight, stride, padding, output_padding, dilation, groups)
        y = _nan_like((d.B, d.Cin, d.H, d.W), x)
        rc = self.lib.emu_conv_transpose2d_forward(
            DTYPES[x.dtype], ctypes.byref(d), _ptr(x.contiguous()), _ptr(weight.contiguous()),
            _ptr(None if bias is None else bias.contiguous()), _ptr(y))
        self._check(rc, "conv_transpose2d_forward")
        return y


def load(out_dir: Path | None = None) -> Emulated:
    return Emulated(build(out_dir))
