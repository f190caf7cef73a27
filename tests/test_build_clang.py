"""The C++ sources compile with clang, not only GCC (syntax only: clang is macOS's compiler and many Linux
distributions' second one; clang before 16 refuses, for one, lambdas that capture structured bindings).
.ci/run installs Debian's clang (14 on bookworm) and its OpenMP headers, so in CI this test always runs."""
import os
import shutil
import subprocess
import sysconfig

import pytest
from torch.utils import cpp_extension

from dyconv import _build

CLANG = shutil.which("clang++") or next(
    (shutil.which(f"clang++-{v}") for v in range(30, 13, -1) if shutil.which(f"clang++-{v}")), None)
SOURCES = _build.cpp_sources()

if CLANG is None and os.environ.get("CI") == "true":
    raise RuntimeError("clang++ not found: .ci/run installs it (apt-get install clang libomp-dev)")
pytestmark = pytest.mark.skipif(CLANG is None, reason="needs clang++ (apt-get install clang libomp-dev)")


@pytest.mark.parametrize("source", SOURCES, ids=[os.path.relpath(s, _build.CSRC) for s in SOURCES])
def test_compiles_with_clang(source):
    includes = [f"-I{p}" for p in (_build.CSRC, *cpp_extension.include_paths(), sysconfig.get_paths()["include"])]
    # The C++ standard torch's own extension builds use (torch.utils.cpp_extension).
    cmd = [CLANG, "-std=c++20", "-fsyntax-only", *_build.CXX_FLAGS, *includes, source]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    errors = [line for line in out.stderr.splitlines() if "error:" in line]
    assert out.returncode == 0, f"expected {os.path.basename(source)} to compile with {CLANG}, got " \
        f"{len(errors)} errors:\n" + "\n".join(errors[:20])
