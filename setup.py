"""Build of dyconv and its extension dyconv._C.

Ways to install from a checkout (docs/install.md):

- ``pip install .`` / ``pip wheel .`` (non-editable): like the editable installs below, with
  the C++ sources carried inside the package (``dyconv/csrc``) for the first-import compile.
- ``pip install -e .``: pip builds in an isolated environment without torch, so
  this installs the Python package only; the first ``import dyconv`` compiles the
  ops against the installed torch and caches them (dyconv/_jit.py).
- ``pip install --no-build-isolation -e .`` with torch installed: the extension is
  compiled now, against that torch. The CUDA kernels are included when torch is a
  CUDA build and nvcc is found, or when FORCE_CUDA=1 (arch list from
  TORCH_CUDA_ARCH_LIST, default "8.0;9.0").

Sources and flags of both builds: dyconv/_build.py. Only the ``dyconv`` package is
installed; the paper's code (models/, audiodata/, training/, deployment/, experiments/) runs from
the checkout.
"""
import importlib.util
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def _build_module():
    """dyconv/_build.py, loaded by path: importing the dyconv package needs the extension this builds."""
    spec = importlib.util.spec_from_file_location("dyconv_build", os.path.join(HERE, "dyconv", "_build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _extensions():
    """The ahead-of-time build of dyconv._C when torch is importable here, else none (compiled at import)."""
    try:
        import torch
        from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension
    except ImportError:
        print("dyconv build: torch is not importable in the build environment (pip's build isolation); "
              "installing the Python package only: the ops are compiled against the installed torch at the "
              "first `import dyconv` (to compile now: pip install --no-build-isolation -e .)")
        return [], {}
    b = _build_module()
    rel = lambda paths: [os.path.relpath(p, HERE) for p in paths]  # noqa: E731 (setuptools wants relative paths)
    sources, cuda_sources = rel(b.cpp_sources()), rel(b.cuda_sources())
    with_cuda, why = b.use_cuda()
    print(f"dyconv build: torch {torch.__version__}; CUDA kernels "
          f"{'included' if with_cuda else 'not included'} ({why}); "
          f"{len(sources)} C++ sources, {len(cuda_sources) if with_cuda else 0} CUDA sources")
    common = dict(include_dirs=[b.CSRC], extra_link_args=list(b.LINK_FLAGS))
    if with_cuda:
        print(f"dyconv build: TORCH_CUDA_ARCH_LIST={b.cuda_arch_list()}")
        ext = CUDAExtension("dyconv._C", sources + cuda_sources, define_macros=[(b.CUDA_MACRO, None)],
                            extra_compile_args={"cxx": list(b.CXX_FLAGS), "nvcc": list(b.NVCC_FLAGS)}, **common)
    else:
        ext = CppExtension("dyconv._C", sources, extra_compile_args={"cxx": list(b.CXX_FLAGS)}, **common)
    return [ext], {"build_ext": _build_ext_class(BuildExtension)}


def _build_ext_class(build_extension):
    """torch's BuildExtension (ninja), compiling into build/temp-editable in an editable install.

    setuptools' editable_wheel points build_temp at a new temporary folder on every ``pip install -e``, so
    ninja never saw its previous objects and every reinstall (e.g. ``-e ".[test]"`` after ``-e .``)
    recompiled everything. In a fixed folder ninja recompiles only the sources (and headers) that changed;
    the link and the copy into dyconv/ still run."""

    class BuildExt(build_extension):
        def finalize_options(self):
            super().finalize_options()
            if self.editable_mode:
                self.build_temp = os.path.join(HERE, "build", "temp-editable")

    return BuildExt.with_options(use_ninja=True)


class BuildPyWithSources(build_py):
    """A non-editable build (``pip install .``, ``pip wheel .``) puts csrc/ into the package as dyconv/csrc:
    without a prebuilt _C (pip's build isolation has no torch) the first import compiles from there."""

    def run(self):
        super().run()
        if not self.editable_mode:
            shutil.copytree(os.path.join(HERE, "csrc"), os.path.join(self.build_lib, "dyconv", "csrc"),
                            dirs_exist_ok=True)


ext_modules, cmdclass = _extensions()
cmdclass["build_py"] = BuildPyWithSources

setup(
    name="dyconv",
    version="0.1.0",
    description="Per-sample dynamic convolution fused with normalization, and the DFE/DCL/DSL "
    "audio event recognition models built on it",
    packages=["dyconv", "dyconv.nn"],
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.4",
        "ninja",
        "numpy",
        "scipy",
        "librosa>=0.10",
        "soundfile>=0.12",
        "soxr>=0.3",
        "tqdm",
        "threadpoolctl",
        "matplotlib",
    ],
    extras_require={"test": ["pytest>=7", "pytest-benchmark>=4"]},
    ext_modules=ext_modules,
    cmdclass=cmdclass,
)
