"""Compile check of the CUDA code with the machine's nvcc, without a GPU.

Every kernel file (csrc/cuda/*.cu) is compiled for sm_80 and sm_90 with the
flags of the real build (setup.py's nvcc flags plus torch's common nvcc
flags). Any nvcc error fails the test, and so does any kernel that spills
registers, declares more than 48 KiB of static shared memory or cannot fit one
block on an SM (ptxas's -Xptxas -v report, tests/helpers/ptxas_report.py). Each
kernel's registers, shared memory and theoretical occupancy on an H100 are
printed as a table (see it with ``pytest -s`` or in the test log).
The torch glue (dynamic_conv_glue.cpp) is syntax-checked against the real
ATen/c10 headers plus stand-ins for the three torch CUDA headers a CPU build
of torch lacks (tests/cuda_glue_stubs/). Skipped when nvcc is not installed.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from torch.utils.cpp_extension import COMMON_NVCC_FLAGS, include_paths

from helpers import ptxas_report

ROOT = Path(__file__).resolve().parents[1]
KERNELS = sorted((ROOT / "csrc" / "cuda").glob("*.cu"))
ARCHS = ("80", "90")
# setup.py's nvcc flags with the C++ standard torch's extension builder uses; torch adds COMMON_NVCC_FLAGS (no implicit half conversions...).
FLAGS = ["-O3", "--use_fast_math", "-std=c++20", *COMMON_NVCC_FLAGS, f"-I{ROOT / 'csrc'}", "-Xptxas", "-v"]

NVCC = shutil.which("nvcc") or (
    os.path.join(os.environ["CUDA_HOME"], "bin", "nvcc") if os.environ.get("CUDA_HOME") else None)
pytestmark = pytest.mark.skipif(NVCC is None or not os.path.exists(NVCC),
                                reason="nvcc not found (install the CUDA toolkit or set CUDA_HOME)")


def compile_kernel(src: Path, out_dir: Path):
    gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in ARCHS]
    cmd = [NVCC, *FLAGS, *gencode, "-c", str(src), "-o", str(out_dir / (src.stem + ".o"))]
    done = subprocess.run(cmd, capture_output=True, text=True)
    return src, cmd, done


def test_kernels_compile_for_sm80_and_sm90(tmp_path):
    assert KERNELS, "no csrc/cuda/*.cu found"
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda s: compile_kernel(s, tmp_path), KERNELS))
    failures = [f"{' '.join(cmd)}\n{done.stderr}" for _, cmd, done in results if done.returncode]
    assert not failures, "nvcc failed:\n" + "\n".join(failures)
    rows = []
    for src, _, done in results:
        found = ptxas_report.parse(done.stdout + done.stderr)
        assert found, f"no ptxas report for {src.name}"
        rows += found
    rows = ptxas_report.demangle(rows)
    # every kernel file builds its kernels for both architectures
    assert len(rows) % len(ARCHS) == 0 and {r.arch for r in rows} == {f"sm_{a}" for a in ARCHS}
    threads = ptxas_report.kernel_threads(ROOT / "csrc" / "cuda" / "common.cuh")
    print("\n" + ptxas_report.table(rows, threads))
    problems = ptxas_report.problems(rows, threads)
    assert not problems, "kernel resources a GPU rejects or pays for:\n" + "\n".join(problems)


def nvcc_includes():
    """The -I flags nvcc gives its host compiler (where cuda_runtime_api.h lives)."""
    done = subprocess.run([NVCC, "--dryrun", "-c", "-x", "cu", os.devnull, "-o", os.devnull],
                          capture_output=True, text=True)
    m = re.search(r'INCLUDES="([^"]*)"', done.stdout + done.stderr)
    return m.group(1).split() if m else []


def test_glue_compiles_against_torch_headers():
    """Syntax check of the glue; on a CUDA build of torch, against its real CUDA headers."""
    import torch

    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not found")
    stubs = [] if torch.version.cuda else [f"-I{ROOT / 'tests' / 'cuda_glue_stubs'}"]
    cmd = [gxx, "-std=c++20", "-fsyntax-only", "-Wall", "-Wno-c++20-extensions", *stubs,
           *(f"-I{p}" for p in include_paths()), *nvcc_includes(), f"-I{ROOT / 'csrc'}",
           str(ROOT / "csrc" / "cuda" / "dynamic_conv_glue.cpp")]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stderr}"
