"""MKL's sgemm_ (what dyconv::cpu::gemm calls, csrc/cpu/blas.h) against oneDNN's brgemm micro-kernel
(at::native::cpublas::brgemm, float32, exported by libtorch_cpu) on the GEMMs the CPU engines issue, one
thread. The two alternate in one process (a round each, minimum over the rounds), so a load from other jobs
hits them alike; each line also says whether brgemm's result is bitwise MKL's and its largest difference
relative to the largest value. Only no-transpose GEMMs are timed against brgemm (it takes none); the
engines' transposed GEMMs (weight and input gradients) are listed with MKL's time alone.

The default shapes are every GEMM the engines issued (an sgemm_ interposer, LD_PRELOAD, on one
forward + backward) for the paper's layer 3 (96->96 3x3 dilation 4, 40x248, batch 16: Winograd), ODConv's
512->512 3x3 at 7x7, batch 32 (im2col), a 1x1 512->512 at 7x7, batch 32 (im2col, x read in place), and the
forward GEMMs of benchmarks/users.py's CondConv EfficientNet rows at 4x4 and 8x8 (1x1, im2col in place), plus
the ODConv im2col GEMM with brgemm K-blocked (brgemm is called per block of kb columns of A, accumulating into C).
Builds a small C++ extension with torch.utils.cpp_extension.load_inline on first use (about a minute).

Example (repository root):
  python -m benchmarks.gemm_brgemm --rounds 15
  python -m benchmarks.gemm_brgemm --shape NN 61 512 512 1040 512 64 --beta 1
"""
from __future__ import annotations

import argparse

import torch

SOURCE = r"""
#include <torch/extension.h>
#include <ATen/native/CPUBlas.h>
#include <algorithm>
#include <chrono>
extern "C" void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*,
                       const float*, const int*, const float*, const int*, const float*, float*, const int*);

// Seconds per call of column-major C(m, n) = op(A) op(B) + beta C, `reps` calls: with MKL (kb < 0) or
// with brgemm (no transposes), whose row-major C^T (n, m) = B^T (n, k) A^T (k, m) is the same product,
// in blocks of kb columns of A (kb = 0: one call).
double run(int64_t kb, bool ta, bool tb, int64_t m, int64_t n, int64_t k, torch::Tensor A, int64_t lda,
           torch::Tensor B, int64_t ldb, torch::Tensor C, int64_t ldc, double beta, int64_t reps) {
  const float* a = A.data_ptr<float>();
  const float* b = B.data_ptr<float>();
  float* c = C.data_ptr<float>();
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t r = 0; r < reps; ++r) {
    if (kb < 0) {
      const char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
      const int im = m, in = n, ik = k, il = lda, ib = ldb, ic = ldc;
      const float one = 1, be = beta;
      sgemm_(&ca, &cb, &im, &in, &ik, &one, a, &il, b, &ib, &be, c, &ic);
    } else {
      TORCH_CHECK(!ta && !tb && (beta == 0 || beta == 1), "brgemm: no transposes, beta 0 or 1");
      const int64_t step = kb ? kb : k;
      for (int64_t k0 = 0; k0 < k; k0 += step)
        at::native::cpublas::brgemm(n, m, std::min(step, k - k0), ldb, lda, ldc, k0 > 0 || beta != 0, b + k0,
                                    a + k0 * lda, c, false);
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
}
"""

# name, transposes, m, n, k, lda, ldb, ldc, beta, K-blocks to try with brgemm (0: unblocked)
SHAPES = [
    ("layer 3 winograd fwd + dx", "NN", 248, 96, 96, 248, 96, 248, 0.0, [0]),
    ("layer 3 winograd dw", "TN", 96, 96, 248, 248, 248, 96, 1.0, []),
    ("odconv im2col fwd", "NN", 49, 512, 4608, 49, 4608, 49, 0.0, [0, 512, 1152]),
    ("odconv im2col dx", "NT", 49, 4608, 512, 49, 4608, 49, 0.0, []),
    ("odconv im2col dw", "TN", 4608, 512, 49, 49, 49, 4608, 0.0, []),
    ("1x1 im2col fwd", "NN", 49, 512, 512, 49, 512, 49, 0.0, [0]),
    ("1x1 im2col dx", "NT", 49, 512, 512, 49, 512, 49, 0.0, []),
    ("1x1 im2col dw", "TN", 512, 512, 49, 49, 49, 512, 0.0, []),
    ("effnet-pw4-up fwd", "NN", 16, 1152, 192, 16, 192, 16, 0.0, [0]),
    ("effnet-pw4-down fwd", "NN", 16, 320, 1152, 16, 1152, 16, 0.0, [0]),
    ("effnet-pw8-up fwd", "NN", 64, 672, 112, 64, 112, 64, 0.0, [0]),
    ("effnet-pw8-down fwd", "NN", 64, 112, 672, 64, 672, 64, 0.0, [0]),
]


def extension():
    from torch.utils.cpp_extension import load_inline
    return load_inline("dyconv_gemm_brgemm", cpp_sources=SOURCE, functions=["run"], extra_cflags=["-O2"])


def compare(ext, name, trans, m, n, k, lda, ldb, ldc, beta, blocks, rounds):
    ta, tb = trans[0] == "T", trans[1] == "T"
    g = torch.Generator().manual_seed(0)
    A = torch.randn(lda * (m if ta else k), generator=g)
    B = torch.randn(ldb * (k if tb else n), generator=g)
    C0 = torch.randn(ldc * n, generator=g)
    reps = max(1, int(2e8 / (2 * m * n * k)))
    modes = [-1] + blocks
    out = {}
    for kb in modes:
        C = C0.clone()
        ext.run(kb, ta, tb, m, n, k, A, lda, B, ldb, C, ldc, beta, 1)
        out[kb] = C
    times = {kb: [] for kb in modes}
    for _ in range(rounds):
        for kb in modes:
            C = C0.clone()
            times[kb].append(ext.run(kb, ta, tb, m, n, k, A, lda, B, ldb, C, ldc, beta, reps))
    mkl = min(times[-1])
    line = (f"{name:26s} {trans} m={m} n={n} k={k} lda={lda} ldb={ldb} ldc={ldc} beta={beta:g}: "
            f"MKL {mkl * 1e6:7.1f} us ({2 * m * n * k / mkl / 1e9:5.1f} GFLOP/s)")
    scale = out[-1].abs().max()
    for kb in blocks:
        t = min(times[kb])
        err = float((out[kb] - out[-1]).abs().max() / scale)
        line += (f" | brgemm{'' if kb == 0 else f' kb={kb}'} {t * 1e6:7.1f} us {mkl / t:4.2f}x "
                 f"{'bitwise' if torch.equal(out[kb], out[-1]) else f'diff {err:.1e}'}")
    print(line, flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15, help="alternating rounds (default 15)")
    ap.add_argument("--shape", nargs=7, metavar=("TRANS", "M", "N", "K", "LDA", "LDB", "LDC"),
                    help="time this column-major GEMM instead of the engines' (TRANS: NN, NT, TN or TT)")
    ap.add_argument("--beta", type=float, default=0.0, help="beta of --shape (0 or 1 for brgemm; default 0)")
    ap.add_argument("--kb", type=int, nargs="*", default=[0], help="K-blocks of --shape for brgemm (default 0: none)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    ext = extension()
    shapes = SHAPES
    if a.shape:
        trans, *dims = a.shape
        shapes = [("--shape", trans, *map(int, dims), a.beta, a.kb if trans == "NN" else [])]
    print(f"torch {torch.__version__}, 1 thread, {a.rounds} rounds, minimum each:")
    for s in shapes:
        compare(ext, *s, a.rounds)


if __name__ == "__main__":
    main()
