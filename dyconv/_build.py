"""What the extension dyconv._C is built from: the one list of sources and flags for both builds.

setup.py compiles it ahead of time (``pip install --no-build-isolation -e .``) and
dyconv/_jit.py compiles it at first import when no prebuilt ``_C`` is there (a plain
``pip install -e .``). setup.py loads this file by path, before dyconv can be imported,
so it imports nothing from dyconv and only ``torch.utils.cpp_extension`` from torch.
"""
from __future__ import annotations

import glob
import os

HERE = os.path.dirname(os.path.abspath(__file__))
# A non-editable install carries the sources in the package (setup.py: BuildPyWithSources); in a checkout
# (and an editable install of it) csrc/ is next to dyconv/.
CSRC = os.path.join(HERE, "csrc") if os.path.isdir(os.path.join(HERE, "csrc")) else os.path.join(os.path.dirname(HERE), "csrc")
CXX_FLAGS = ["-O3", "-fopenmp"]  # the C++ standard is the one torch.utils.cpp_extension picks
NVCC_FLAGS = ["-O3", "--use_fast_math"]
LINK_FLAGS = ["-fopenmp"]
CUDA_MACRO = "DYCONV_WITH_CUDA"
DEFAULT_CUDA_ARCHS = "8.0;9.0"


def _sources(pattern: str) -> list[str]:
    return sorted(glob.glob(os.path.join(CSRC, pattern)))


def cpp_sources() -> list[str]:
    """Absolute paths of the schema and CPU kernel sources (always compiled)."""
    return _sources("*.cpp") + _sources(os.path.join("cpu", "*.cpp"))


def cuda_sources() -> list[str]:
    """Absolute paths of the CUDA kernels and their glue (compiled only with CUDA)."""
    return _sources(os.path.join("cuda", "*.cu")) + _sources(os.path.join("cuda", "*_glue.cpp"))


def use_cuda() -> tuple[bool, str]:
    """Whether to compile the CUDA kernels, and why: FORCE_CUDA=1, or a CUDA torch with nvcc found."""
    import torch
    from torch.utils.cpp_extension import CUDA_HOME

    if os.environ.get("FORCE_CUDA", "0") == "1":
        return True, "FORCE_CUDA=1"
    if torch.version.cuda is None:
        return False, "torch is a CPU build"
    if CUDA_HOME is None:
        return False, "nvcc / CUDA_HOME not found"
    if not cuda_sources():
        return False, "no CUDA sources"
    return True, f"torch CUDA {torch.version.cuda}, CUDA_HOME={CUDA_HOME}"


def cuda_arch_list() -> str:
    """TORCH_CUDA_ARCH_LIST, set to the default when the user did not choose (torch reads the variable)."""
    return os.environ.setdefault("TORCH_CUDA_ARCH_LIST", DEFAULT_CUDA_ARCHS)
