"""Build of dyconv and its extension dyconv._C.

Install with ``pip install --no-build-isolation -e .`` (build isolation would
compile against a different torch than the one installed). The CUDA kernels
are compiled when torch is a CUDA build and nvcc is found, or when
FORCE_CUDA=1 (arch list from TORCH_CUDA_ARCH_LIST, default "8.0;9.0").
"""
import glob
import os

from setuptools import find_packages, setup

try:
    import torch
    from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension
except ImportError as e:  # pragma: no cover - a message instead of a traceback
    raise SystemExit(
        "dyconv needs torch installed before it is built: pip install torch==2.13.0, "
        "then pip install --no-build-isolation -e ."
    ) from e

HERE = os.path.dirname(os.path.abspath(__file__))


def _sources(pattern):
    return sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, pattern)))


def _use_cuda():
    if os.environ.get("FORCE_CUDA", "0") == "1":
        return True, "FORCE_CUDA=1"
    if torch.version.cuda is None:
        return False, "torch is a CPU build"
    if CUDA_HOME is None:
        return False, "nvcc / CUDA_HOME not found"
    return True, f"torch CUDA {torch.version.cuda}, CUDA_HOME={CUDA_HOME}"


def _extension():
    sources = _sources("csrc/*.cpp") + _sources("csrc/cpu/*.cpp")
    cxx = ["-O3", "-fopenmp"]  # the C++ standard is the one torch.utils.cpp_extension picks
    cuda_sources = _sources("csrc/cuda/*.cu") + _sources("csrc/cuda/*_glue.cpp")
    with_cuda, why = _use_cuda()
    with_cuda = with_cuda and bool(cuda_sources)
    print(f"dyconv build: torch {torch.__version__}; CUDA kernels "
          f"{'included' if with_cuda else 'not included'} ({why}); "
          f"{len(sources)} C++ sources, {len(cuda_sources) if with_cuda else 0} CUDA sources")
    if with_cuda:
        os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "8.0;9.0")
        print(f"dyconv build: TORCH_CUDA_ARCH_LIST={os.environ['TORCH_CUDA_ARCH_LIST']}")
        return CUDAExtension(
            "dyconv._C",
            sources + cuda_sources,
            include_dirs=[os.path.join(HERE, "csrc")],
            define_macros=[("DYCONV_WITH_CUDA", None)],
            extra_compile_args={"cxx": cxx, "nvcc": ["-O3", "--use_fast_math"]},
            extra_link_args=["-fopenmp"],
        )
    return CppExtension(
        "dyconv._C",
        sources,
        include_dirs=[os.path.join(HERE, "csrc")],
        extra_compile_args={"cxx": cxx},
        extra_link_args=["-fopenmp"],
    )


setup(
    name="dyconv",
    version="0.1.0",
    description="Per-sample dynamic convolution fused with normalization, and the DFE/DCL/DSL "
    "audio event recognition models built on it",
    packages=find_packages(include=["dyconv", "dyconv.*", "models", "models.*", "audiodata", "audiodata.*", "training", "training.*"]),
    python_requires=">=3.10",
    install_requires=[
        "torch>=2.4",
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
    ext_modules=[_extension()],
    cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
)
