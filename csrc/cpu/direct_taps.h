// The taps of a stride-1 convolution summed in registers ("direct" taps):
//   Y(Cout, n) = sum over taps t of W_t (Cout, Cin) @ X[:, off_t : off_t + n]
// where X's channels are rows xs elements apart and off_t is tap t's shift
// (the shifted-GEMM formulation of cpu/shifted_conv.h). One GEMM per tap
// reduces over Cin only, and with few channels (12-48) its output tile goes
// through memory Cin / 16 FMAs at a time; here a block of COB outputs x PXV
// vectors of pixels stays in registers over every (input channel, tap).
//
// Compiled for AVX-512 (16 lanes, 6 x 4 accumulators), AVX2 + FMA (8 lanes,
// 4 x 3) and the SSE2 baseline (4 lanes, 4 x 3) with GCC on x86 and glibc
// (elsewhere the baseline only); direct_isa() picks the widest the CPU runs.
// float only: double keeps the per-tap GEMMs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <c10/util/Exception.h>

namespace dyconv::cpu {

namespace direct_detail {

// acc[C][P] over all (ci, t); w holds COB weights per (ci, t), the first C used.
template <int VW, int COB, int C, int P>
__attribute__((always_inline)) inline void block(const float* __restrict x, int64_t xs,
                                                 const int64_t* __restrict offs, int64_t ntaps,
                                                 int64_t Cin, const float* __restrict w,
                                                 float* __restrict y, int64_t ys) {
  typedef float V __attribute__((vector_size(VW * sizeof(float))));
  typedef float U __attribute__((vector_size(VW * sizeof(float)), aligned(4), may_alias));  // unaligned
  V acc[C][P];
  for (int c = 0; c < C; ++c)
    for (int v = 0; v < P; ++v) acc[c][v] = V{};
  for (int64_t ci = 0; ci < Cin; ++ci, x += xs) {
    for (int64_t t = 0; t < ntaps; ++t, w += COB) {
      V xv[P];
      for (int v = 0; v < P; ++v) xv[v] = *reinterpret_cast<const U*>(x + offs[t] + v * VW);
      for (int c = 0; c < C; ++c) {
        const float wc = w[c];
        for (int v = 0; v < P; ++v) acc[c][v] += wc * xv[v];
      }
    }
  }
  for (int c = 0; c < C; ++c)
    for (int v = 0; v < P; ++v) *reinterpret_cast<U*>(y + c * ys + v * VW) = acc[c][v];
}

// The last block of outputs, c < COB of them.
template <int VW, int COB, int P, int C = COB - 1>
__attribute__((always_inline)) inline void last_block(int64_t c, const float* x, int64_t xs,
                                                      const int64_t* offs, int64_t ntaps, int64_t Cin,
                                                      const float* w, float* y, int64_t ys) {
  if constexpr (C > 0) {
    if (c == C) return block<VW, COB, C, P>(x, xs, offs, ntaps, Cin, w, y, ys);
    last_block<VW, COB, P, C - 1>(c, x, xs, offs, ntaps, Cin, w, y, ys);
  }
}

// Outputs [c0, c0 + COB) (or to Cout) on the pixel block at x.
template <int VW, int COB, int P>
__attribute__((always_inline)) inline void out_block(int64_t Cout, int64_t c0, int64_t Cin, int64_t ntaps,
                                                     const int64_t* offs, const float* x, int64_t xs,
                                                     const float* w, float* y, int64_t ys) {
  const float* wb = w + c0 * Cin * ntaps;
  if (Cout - c0 >= COB) block<VW, COB, COB, P>(x, xs, offs, ntaps, Cin, wb, y, ys);
  else last_block<VW, COB, P>(Cout - c0, x, xs, offs, ntaps, Cin, wb, y, ys);
}

template <int VW, int COB, int P>
__attribute__((always_inline)) inline void taps(int64_t Cout, int64_t Cin, int64_t ntaps, const int64_t* offs,
                                                const float* x, int64_t xs, const float* w, float* y,
                                                int64_t ys, int64_t n) {
  constexpr int64_t px = VW * P;
  // Pixel blocks outside, output blocks inside: a block's inputs stay in L1
  // while every output block reads them.
  const int64_t whole = n / px * px;
  for (int64_t p0 = 0; p0 < whole; p0 += px)
    for (int64_t c0 = 0; c0 < Cout; c0 += COB)
      out_block<VW, COB, P>(Cout, c0, Cin, ntaps, offs, x + p0, xs, w, y + c0 * ys + p0, ys);
  if (whole == n) return;
  // The last pixels: a whole block computed aside, the part inside Y copied.
  alignas(64) float tail[COB * px];
  for (int64_t c0 = 0; c0 < Cout; c0 += COB) {
    out_block<VW, COB, P>(Cout, c0, Cin, ntaps, offs, x + whole, xs, w, tail, px);
    for (int64_t c = 0; c < std::min<int64_t>(COB, Cout - c0); ++c)
      std::memcpy(y + (c0 + c) * ys + whole, tail + c * px, (n - whole) * sizeof(float));
  }
}

// The weight gradient's block: acc[C][Q] over the pixels [0, n) of the dy rows
// of C outputs and the shifted x rows of Q (input channel, tap) pairs xq[q].
template <int VW, int C, int Q>
__attribute__((always_inline)) inline void grad_block(const float* __restrict dy, int64_t ys,
                                                      const float* const* __restrict xq, int64_t n,
                                                      float* __restrict dw, int64_t dws) {
  typedef float V __attribute__((vector_size(VW * sizeof(float))));
  typedef float U __attribute__((vector_size(VW * sizeof(float)), aligned(4), may_alias));  // unaligned
  V acc[C][Q];
  for (int c = 0; c < C; ++c)
    for (int q = 0; q < Q; ++q) acc[c][q] = V{};
  const int64_t nv = n / VW * VW;
  for (int64_t p = 0; p < nv; p += VW) {
    V dv[C];
    for (int c = 0; c < C; ++c) dv[c] = *reinterpret_cast<const U*>(dy + c * ys + p);
    for (int q = 0; q < Q; ++q) {
      const V xv = *reinterpret_cast<const U*>(xq[q] + p);
      for (int c = 0; c < C; ++c) acc[c][q] += dv[c] * xv;
    }
  }
  for (int c = 0; c < C; ++c)
    for (int q = 0; q < Q; ++q) {
      float s = 0.f;
      for (int l = 0; l < VW; ++l) s += acc[c][q][l];
      for (int64_t p = nv; p < n; ++p) s += dy[c * ys + p] * xq[q][p];
      dw[c * dws + q] += s;
    }
}

// grad_block<VW, c, q> for the last blocks, c <= CB outputs and q <= QB pairs.
template <int VW, int CB, int QB, int C = CB, int Q = QB>
__attribute__((always_inline)) inline void grad_last(int64_t c, int64_t q, const float* dy, int64_t ys,
                                                     const float* const* xq, int64_t n, float* dw,
                                                     int64_t dws) {
  if constexpr (C > 0 && Q > 0) {
    if (c < C) return grad_last<VW, CB, QB, C - 1, Q>(c, q, dy, ys, xq, n, dw, dws);
    if (q < Q) return grad_last<VW, CB, QB, C, Q - 1>(c, q, dy, ys, xq, n, dw, dws);
    grad_block<VW, C, Q>(dy, ys, xq, n, dw, dws);
  }
}

template <int VW, int CB, int QB>
__attribute__((always_inline)) inline void grad(int64_t Cout, int64_t Cin, int64_t ntaps, const int64_t* offs,
                                                const float* x, int64_t xs, const float* dy, int64_t ys,
                                                float* dw, int64_t n) {
  const int64_t pairs = Cin * ntaps;
  for (int64_t q0 = 0; q0 < pairs; q0 += QB) {
    const float* xq[QB];
    const int64_t q = std::min<int64_t>(QB, pairs - q0);
    for (int64_t i = 0; i < q; ++i) xq[i] = x + (q0 + i) / ntaps * xs + offs[(q0 + i) % ntaps];
    for (int64_t c0 = 0; c0 < Cout; c0 += CB) {
      const int64_t c = std::min<int64_t>(CB, Cout - c0);
      float* dwb = dw + c0 * pairs + q0;
      if (c == CB && q == QB) grad_block<VW, CB, QB>(dy + c0 * ys, ys, xq, n, dwb, pairs);
      else grad_last<VW, CB, QB>(c, q, dy + c0 * ys, ys, xq, n, dwb, pairs);
    }
  }
}

#define DYCONV_DIRECT_ARGS                                                                       \
  int64_t Cout, int64_t Cin, int64_t ntaps, const int64_t *offs, const float *x, int64_t xs, \
      const float *w, float *y, int64_t ys, int64_t n
#define DYCONV_DIRECT_PASS Cout, Cin, ntaps, offs, x, xs, w, y, ys, n
#define DYCONV_GRAD_ARGS                                                                       \
  int64_t Cout, int64_t Cin, int64_t ntaps, const int64_t *offs, const float *x, int64_t xs, \
      const float *dy, int64_t ys, float *dw, int64_t n
#define DYCONV_GRAD_PASS Cout, Cin, ntaps, offs, x, xs, dy, ys, dw, n

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__)
#define DYCONV_DIRECT_X86 1
__attribute__((target("arch=x86-64-v4"))) inline void taps_avx512(DYCONV_DIRECT_ARGS) {
  taps<16, 6, 4>(DYCONV_DIRECT_PASS);
}
__attribute__((target("arch=x86-64-v3,tune=haswell"))) inline void taps_avx2(DYCONV_DIRECT_ARGS) {
  taps<8, 4, 3>(DYCONV_DIRECT_PASS);
}
__attribute__((target("arch=x86-64-v4"))) inline void grad_avx512(DYCONV_GRAD_ARGS) {
  grad<16, 4, 6>(DYCONV_GRAD_PASS);
}
__attribute__((target("arch=x86-64-v3,tune=haswell"))) inline void grad_avx2(DYCONV_GRAD_ARGS) {
  grad<8, 3, 4>(DYCONV_GRAD_PASS);
}
#endif
inline void taps_baseline(DYCONV_DIRECT_ARGS) { taps<4, 4, 3>(DYCONV_DIRECT_PASS); }
inline void grad_baseline(DYCONV_GRAD_ARGS) { grad<4, 3, 4>(DYCONV_GRAD_PASS); }

#undef DYCONV_DIRECT_ARGS
#undef DYCONV_DIRECT_PASS
#undef DYCONV_GRAD_ARGS
#undef DYCONV_GRAD_PASS

}  // namespace direct_detail

// One compiled version of the kernels: its entry points and block sizes.
struct DirectIsa {
  const char* name;
  decltype(&direct_detail::taps_baseline) taps;
  decltype(&direct_detail::grad_baseline) grad;
  int64_t cob;     // outputs per block: the packing's block size
  int64_t pixels;  // pixels per block: taps reads x up to n rounded up to a multiple of these

  // Elements of the packed weights of a (Cout, Cin, ntaps) filter bank.
  int64_t packed_size(int64_t Cout, int64_t Cin, int64_t ntaps) const {
    return (Cout + cob - 1) / cob * cob * Cin * ntaps;
  }
};

// The widest version this CPU runs, or a narrower one named by DYCONV_CPU_ISA
// (avx512, avx2, baseline: tests run every version on one machine).
inline const DirectIsa& direct_isa() {
  using namespace direct_detail;
  static const DirectIsa versions[] = {
#ifdef DYCONV_DIRECT_X86
      {"avx512", taps_avx512, grad_avx512, 6, 64},
      {"avx2", taps_avx2, grad_avx2, 4, 24},
#endif
      {"baseline", taps_baseline, grad_baseline, 4, 12},
  };
  constexpr int count = sizeof(versions) / sizeof(versions[0]);
  static const int widest = [] {
#ifdef DYCONV_DIRECT_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
      return 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return count - 1;
  }();
  const char* env = std::getenv("DYCONV_CPU_ISA");
  if (!env || !*env) return versions[widest];
  for (int i = 0; i < count; ++i)
    if (std::strcmp(env, versions[i].name) == 0) return versions[std::max(i, widest)];
  TORCH_CHECK(false, "DYCONV_CPU_ISA: expected avx512, avx2 or baseline, got '", env, "'");
}

// Packs weight(co, ci, t) (a callable) for isa.taps: blocks of isa.cob outputs,
// each (Cin, ntaps, cob), the last block's missing outputs zero.
template <typename Weight>
void direct_pack(const DirectIsa& isa, int64_t Cout, int64_t Cin, int64_t ntaps, Weight&& weight,
                 float* packed) {
  for (int64_t c0 = 0; c0 < Cout; c0 += isa.cob)
    for (int64_t ci = 0; ci < Cin; ++ci)
      for (int64_t t = 0; t < ntaps; ++t)
        for (int64_t c = 0; c < isa.cob; ++c) *packed++ = c0 + c < Cout ? float(weight(c0 + c, ci, t)) : 0.f;
}

// The entry points, with x (Cin rows xs apart) read shifted by offs[t] for tap t:
//   isa.taps(Cout, Cin, ntaps, offs, x, xs, w, y, ys, n): Y (Cout rows ys apart)
//     = sum over t of W_t @ X_t on pixels [0, n); w from direct_pack. X is read up to
//     n rounded up to a multiple of isa.pixels (the extra results are dropped).
//   isa.grad(Cout, Cin, ntaps, offs, x, xs, dy, ys, dw, n): dW (Cout, Cin, ntaps; the
//     weight's layout) += DY (Cout rows ys apart) @ X_t^T over exactly pixels [0, n).

}  // namespace dyconv::cpu
