"""Just-in-time build of the ops, for installs without a prebuilt dyconv._C (a plain ``pip install -e .``).

The first ``import dyconv`` compiles csrc/ against the installed torch with
``torch.utils.cpp_extension.load`` (ninja; the sources and flags of setup.py, from
dyconv/_build.py) and says so on one line; later imports load the cached library.
The cache folder is named by the torch version and by CPU/CUDA, under
``$TORCH_EXTENSIONS_DIR`` (default ``~/.cache/torch_extensions/``); a changed C++
file is recompiled, the rest reused. CUDA kernels are included only when torch is a
CUDA build and nvcc is found (or FORCE_CUDA=1), as in the ahead-of-time build.
"""
from __future__ import annotations

import glob
import os
import re
import subprocess
import sys

import torch
from torch.utils import cpp_extension

from dyconv import _build

AHEAD_OF_TIME = "pip install --no-build-isolation -e ."


def _name(with_cuda: bool) -> str:
    return re.sub(r"\W", "_", f"dyconv_torch{torch.__version__}" + ("_cuda" if with_cuda else ""))


def _up_to_date(build_dir: str, name: str) -> bool:
    """Whether a library built from the current sources is in ``build_dir`` (else: say we compile)."""
    built = glob.glob(os.path.join(build_dir, f"{name}*.so"))
    sources = [p for p in glob.glob(os.path.join(_build.CSRC, "**", "*"), recursive=True) if os.path.isfile(p)]
    return bool(built) and max(map(os.path.getmtime, built)) >= max(map(os.path.getmtime, sources))


def load() -> None:
    """Compile (first time) or load (later) the ops into torch.ops.dyconv; ImportError saying what to do."""
    sources = _build.cpp_sources()
    if not sources:
        raise ImportError(
            f"dyconv: the compiled ops (dyconv/_C) are missing and so are the C++ sources to build them "
            f"(expected {_build.CSRC}); reinstall from a checkout of the repository with `pip install .` or "
            f"`pip install -e .` (both compile at first import) or `{AHEAD_OF_TIME}` (compiles now)")
    with_cuda, why = _build.use_cuda()
    name = _name(with_cuda)
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or cpp_extension.get_default_build_root()
    build_dir = os.path.join(root, name)
    os.makedirs(build_dir, exist_ok=True)
    kwargs = dict(extra_cflags=list(_build.CXX_FLAGS), extra_ldflags=list(_build.LINK_FLAGS),
                  extra_include_paths=[_build.CSRC])
    if with_cuda:
        _build.cuda_arch_list()
        sources = sources + _build.cuda_sources()
        kwargs["extra_cflags"].append(f"-D{_build.CUDA_MACRO}")
        kwargs["extra_cuda_cflags"] = list(_build.NVCC_FLAGS) + [f"-D{_build.CUDA_MACRO}"]
    if not _up_to_date(build_dir, name):
        print(f"dyconv: compiling the ops for torch {torch.__version__} ({'with' if with_cuda else 'without'} CUDA "
              f"kernels: {why}) into {build_dir}; once, a few minutes (prebuild: {AHEAD_OF_TIME})",
              file=sys.stderr, flush=True)
    try:
        cpp_extension.load(name, sources, build_directory=build_dir, with_cuda=with_cuda,
                           is_python_module=False, **kwargs)
    except (RuntimeError, OSError, ImportError, subprocess.SubprocessError) as e:  # a compiler that cannot even say its version
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ImportError(
            f"dyconv: compiling the ops for torch {torch.__version__} failed ({reason}); it needs a C++ compiler "
            f"(g++; CXX to choose another) and ninja (pip install ninja). The compiler output is printed above; "
            f"the build folder is {build_dir}") from e
