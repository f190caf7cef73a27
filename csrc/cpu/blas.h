// Column-major GEMM through the BLAS that torch itself links (MKL on x86:
// libtorch_cpu exports the Fortran sgemm_/dgemm_ symbols ATen calls), and for
// float GEMMs with at most 16 rows through oneDNN's brgemm micro-kernel, which
// libtorch_cpu exports too (at::native::cpublas::brgemm) where torch has it.
#pragma once

#include <ATen/Parallel.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cpu_id.h"

#if __has_include(<ATen/native/CPUBlas.h>)
#include <ATen/native/CPUBlas.h>
#endif

extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
            const double* alpha, const double* a, const int* lda, const double* b,
            const int* ldb, const double* beta, double* c, const int* ldc);
}

namespace dyconv::cpu {

// Whether gemm below hands this float GEMM to brgemm: no transposes (brgemm takes
// none), alpha 1 and beta 0 or 1 (it only adds into C or not), m <= 16 rows and
// n, k <= 1152, on an AVX-512 CPU, from a single-threaded caller (inside the
// engines' parallel loops, or one thread: MKL would thread a lone GEMM, brgemm
// does not). There, one thread on Sapphire Rapids, brgemm took 0.80-0.85x MKL's
// time (the 1x1 im2col GEMMs of CondConv's 4x4 maps, m = 16; m = 4-16 alike);
// at m = 25-64 and on the engines' larger GEMMs it was 0.84-1.11x MKL's speed,
// and 0.44-0.50x on im2col's k = 4608 (benchmarks/gemm_brgemm.py, docs/cpu_kernels.md).
// A function of the shape and the thread count alone: the same calls always
// take the same path.
// DYCONV_BRGEMM=0 keeps every GEMM on MKL (read at each such call, as
// DYCONV_CPU_ENGINE is, so that one process can time both).
inline bool use_brgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta) {
#if defined(CPUBLAS_BRGEMM_F32F32F32)
  if (ta || tb || alpha != 1.f || (beta != 0.f && beta != 1.f)) return false;
  if (m > 16 || n > 1152 || k > 1152 || !cpu_id().avx512) return false;
  if (!at::in_parallel_region() && at::get_num_threads() > 1) return false;
  const char* env = std::getenv("DYCONV_BRGEMM");
  return !(env && std::strcmp(env, "0") == 0);
#else
  (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)beta;
  return false;
#endif
}

// C(m, n) = alpha * op(A)(m, k) @ op(B)(k, n) + beta * C, all column-major.
inline void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#if defined(CPUBLAS_BRGEMM_F32F32F32)
  if (use_brgemm(ta, tb, m, n, k, alpha, beta)) {
    // brgemm is row-major: C^T (n, m) = B^T (n, k) @ A^T (k, m) is this product.
    at::native::cpublas::brgemm(n, m, k, ldb, lda, ldc, beta != 0.f, b, a, c, false);
    return;
  }
#endif
  const char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
  const int im = int(m), in = int(n), ik = int(k), ilda = int(lda), ildb = int(ldb), ildc = int(ldc);
  sgemm_(&ca, &cb, &im, &in, &ik, &alpha, a, &ilda, b, &ildb, &beta, c, &ildc);
}

inline void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                 int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  const char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
  const int im = int(m), in = int(n), ik = int(k), ilda = int(lda), ildb = int(ldb), ildc = int(ldc);
  dgemm_(&ca, &cb, &im, &in, &ik, &alpha, a, &ilda, b, &ildb, &beta, c, &ildc);
}

}  // namespace dyconv::cpu
