// The F(2x2, 3x3) Winograd transforms (Lavin & Gray 2016), each over a run of
// n tiles that lie side by side in memory, so the loops vectorise across tiles:
//   input  V = B^T d B   (4x4 input patch d -> 16 Winograd-domain elements)
//   output Y = A^T M A   (16 elements -> 2x2 outputs)
//   output gradient dM = A dY A^T (2x2 -> 16), the adjoint of the output transform
//   filter U = G g G^T (3x3 -> 16) and its adjoint dg = G^T dU G
// with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  A^T = [1 1 1 0; 0 1 -1 -1],
//   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
// Element e = 4 * i + j of a tile is written at dst + e * es + tile. Also here:
// the row (de)interleave between an image row and its columns grouped by
// remainder mod m * dilation (m = 2 here, 4 for F(4x4, 3x3): winograd4_transforms.h),
// the layout the transforms of both tile sizes read and write.
// A tile's columns j (and rows i) are `dilation` apart in the image; the callers
// store each image row with its columns grouped by their remainder mod
// 2 * dilation (winograd_conv.h), so columns 0, 1, 2, 3 of the n tiles are the
// n consecutive values at p, p + go, p + 1, p + go + 1 (go: one group further).
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu/row_kernels.h"  // DYCONV_SIMD_CLONES

namespace dyconv::cpu {

// Columns [S * i0, S * i1) of the padded row p grouped by remainder mod S
// (a compile-time S: the compiler turns the S-way interleave into vector permutes).
template <int64_t S, typename T>
inline void winograd_deinterleave_full(const T* __restrict p, int64_t i0, int64_t i1, int64_t gl,
                                       T* __restrict dst) {
#pragma omp simd
  for (int64_t idx = i0; idx < i1; ++idx)
    for (int64_t g = 0; g < S; ++g) dst[g * gl + idx] = p[S * idx + g];
}

// One image row of w values, at column offset `left` of a zero-padded row,
// with its columns grouped by remainder mod step: padded column g + step * idx
// to dst[g * gl + idx] (g < step, idx < gl).
template <typename T>
DYCONV_SIMD_CLONES void winograd_deinterleave_row(const T* __restrict src, int64_t w, int64_t left,
                                                  int64_t step, int64_t gl, T* __restrict dst) {
  // Groups idx in [i0, i1) are whole image columns: padded columns step * idx + g
  // with 0 <= step * idx - left and step * idx + step - 1 - left < w.
  const int64_t i0 = std::min(gl, (left + step - 1) / step);
  const int64_t i1 = std::clamp<int64_t>(w + left >= step ? (w + left - step) / step + 1 : 0, i0, gl);
  const auto border = [&](int64_t g, int64_t idx) {
    const int64_t c = g + step * idx - left;
    dst[g * gl + idx] = c >= 0 && c < w ? src[c] : T(0);
  };
  for (int64_t g = 0; g < step; ++g) {
    for (int64_t idx = 0; idx < i0; ++idx) border(g, idx);
    for (int64_t idx = i1; idx < gl; ++idx) border(g, idx);
  }
  if (i0 >= i1) return;
  const T* p = src - left;  // padded column 0 (read only from column step * i0 >= left on)
  switch (step) {
    case 2: return winograd_deinterleave_full<2>(p, i0, i1, gl, dst);
    case 4: return winograd_deinterleave_full<4>(p, i0, i1, gl, dst);
    case 8: return winograd_deinterleave_full<8>(p, i0, i1, gl, dst);
    case 16: return winograd_deinterleave_full<16>(p, i0, i1, gl, dst);
    case 32: return winograd_deinterleave_full<32>(p, i0, i1, gl, dst);
    default:
      for (int64_t g = 0; g < step; ++g)
        for (int64_t idx = i0; idx < i1; ++idx) dst[g * gl + idx] = p[step * idx + g];
  }
}

// The inverse for an output row: row[g + step * idx] = src[g * n + idx] for the
// w columns of the row.
template <int64_t S, typename T>
inline void winograd_interleave_full(const T* __restrict src, int64_t n, int64_t i1, T* __restrict row) {
#pragma omp simd
  for (int64_t idx = 0; idx < i1; ++idx)
    for (int64_t g = 0; g < S; ++g) row[S * idx + g] = src[g * n + idx];
}

template <typename T>
DYCONV_SIMD_CLONES void winograd_interleave_row(const T* __restrict src, int64_t n, int64_t step, int64_t w,
                                                T* __restrict row) {
  const int64_t i1 = std::min(n, w / step);  // whole groups of step columns
  switch (step) {
    case 2: winograd_interleave_full<2>(src, n, i1, row); break;
    case 4: winograd_interleave_full<4>(src, n, i1, row); break;
    case 8: winograd_interleave_full<8>(src, n, i1, row); break;
    case 16: winograd_interleave_full<16>(src, n, i1, row); break;
    case 32: winograd_interleave_full<32>(src, n, i1, row); break;
    default:
      for (int64_t g = 0; g < step; ++g)
        for (int64_t idx = 0; idx < i1; ++idx) row[step * idx + g] = src[g * n + idx];
  }
  for (int64_t c = step * i1; c < w; ++c) row[c] = src[(c % step) * n + c / step];
}

// V of n tiles whose four input rows start at r0..r3.
template <typename T>
DYCONV_SIMD_CLONES void winograd_input_tiles(const T* __restrict r0, const T* __restrict r1,
                                             const T* __restrict r2, const T* __restrict r3,
                                             int64_t go, int64_t n, T* __restrict dst, int64_t es) {
  const T *q0 = r0 + go, *q1 = r1 + go, *q2 = r2 + go, *q3 = r3 + go;
  T *v0 = dst, *v1 = dst + es, *v2 = dst + 2 * es, *v3 = dst + 3 * es;
  T *v4 = dst + 4 * es, *v5 = dst + 5 * es, *v6 = dst + 6 * es, *v7 = dst + 7 * es;
  T *v8 = dst + 8 * es, *v9 = dst + 9 * es, *v10 = dst + 10 * es, *v11 = dst + 11 * es;
  T *v12 = dst + 12 * es, *v13 = dst + 13 * es, *v14 = dst + 14 * es, *v15 = dst + 15 * es;
#pragma omp simd
  for (int64_t k = 0; k < n; ++k) {
    // B^T along each row: [d0 - d2, d1 + d2, d2 - d1, d1 - d3]
    const T a0 = r0[k] - r0[k + 1], a1 = q0[k] + r0[k + 1], a2 = r0[k + 1] - q0[k], a3 = q0[k] - q0[k + 1];
    const T b0 = r1[k] - r1[k + 1], b1 = q1[k] + r1[k + 1], b2 = r1[k + 1] - q1[k], b3 = q1[k] - q1[k + 1];
    const T c0 = r2[k] - r2[k + 1], c1 = q2[k] + r2[k + 1], c2 = r2[k + 1] - q2[k], c3 = q2[k] - q2[k + 1];
    const T e0 = r3[k] - r3[k + 1], e1 = q3[k] + r3[k + 1], e2 = r3[k + 1] - q3[k], e3 = q3[k] - q3[k + 1];
    // and down the columns
    v0[k] = a0 - c0, v1[k] = a1 - c1, v2[k] = a2 - c2, v3[k] = a3 - c3;
    v4[k] = b0 + c0, v5[k] = b1 + c1, v6[k] = b2 + c2, v7[k] = b3 + c3;
    v8[k] = c0 - b0, v9[k] = c1 - b1, v10[k] = c2 - b2, v11[k] = c3 - b3;
    v12[k] = b0 - e0, v13[k] = b1 - e1, v14[k] = b2 - e2, v15[k] = b3 - e3;
  }
}

// Y of n tiles from M (element e at m + e * es): output row i, column j of
// every tile to o[2 * i + j][k].
template <typename T>
DYCONV_SIMD_CLONES void winograd_output_tiles(const T* __restrict m, int64_t es, int64_t n,
                                              T* __restrict o00, T* __restrict o01,
                                              T* __restrict o10, T* __restrict o11) {
#pragma omp simd
  for (int64_t k = 0; k < n; ++k) {
    T u[4][2];
    for (int i = 0; i < 4; ++i) {
      const T m0 = m[(4 * i) * es + k], m1 = m[(4 * i + 1) * es + k];
      const T m2 = m[(4 * i + 2) * es + k], m3 = m[(4 * i + 3) * es + k];
      u[i][0] = m0 + m1 + m2;
      u[i][1] = m1 - m2 - m3;
    }
    o00[k] = u[0][0] + u[1][0] + u[2][0];
    o01[k] = u[0][1] + u[1][1] + u[2][1];
    o10[k] = u[1][0] - u[2][0] - u[3][0];
    o11[k] = u[1][1] - u[2][1] - u[3][1];
  }
}

// dM = A dY A^T of n tiles whose two output-gradient rows start at r0, r1.
template <typename T>
DYCONV_SIMD_CLONES void winograd_grad_tiles(const T* __restrict r0, const T* __restrict r1, int64_t go,
                                            int64_t n, T* __restrict dst, int64_t es) {
#pragma omp simd
  for (int64_t k = 0; k < n; ++k) {
    const T a0 = r0[k], a1 = r0[go + k], b0 = r1[k], b1 = r1[go + k];
    // rows of A dY: [a], [a + b], [a - b], [-b]; then the same along the columns
    const T w[4][2] = {{a0, a1}, {a0 + b0, a1 + b1}, {a0 - b0, a1 - b1}, {-b0, -b1}};
    for (int i = 0; i < 4; ++i) {
      dst[(4 * i) * es + k] = w[i][0];
      dst[(4 * i + 1) * es + k] = w[i][0] + w[i][1];
      dst[(4 * i + 2) * es + k] = w[i][0] - w[i][1];
      dst[(4 * i + 3) * es + k] = -w[i][1];
    }
  }
}

// U = G g G^T of one 3x3 filter g (g[3 * i + j] at g + (3 * i + j) * gs) to u[e * es].
template <typename T>
inline void winograd_filter(const T* g, int64_t gs, T* u, int64_t es) {
  T t[4][3];  // G g
  for (int j = 0; j < 3; ++j) {
    const T g0 = g[j * gs], g1 = g[(3 + j) * gs], g2 = g[(6 + j) * gs];
    t[0][j] = g0;
    t[1][j] = T(0.5) * (g0 + g1 + g2);
    t[2][j] = T(0.5) * (g0 - g1 + g2);
    t[3][j] = g2;
  }
  for (int i = 0; i < 4; ++i) {
    u[(4 * i) * es] = t[i][0];
    u[(4 * i + 1) * es] = T(0.5) * (t[i][0] + t[i][1] + t[i][2]);
    u[(4 * i + 2) * es] = T(0.5) * (t[i][0] - t[i][1] + t[i][2]);
    u[(4 * i + 3) * es] = t[i][2];
  }
}

// dg = G^T dU G (the adjoint of winograd_filter): dU[e] at du + e * es, dg[3 * i + j] to g.
template <typename T>
inline void winograd_filter_adjoint(const T* du, int64_t es, T* g) {
  T t[4][3];  // dU G
  for (int i = 0; i < 4; ++i) {
    const T d0 = du[(4 * i) * es], d1 = du[(4 * i + 1) * es], d2 = du[(4 * i + 2) * es],
            d3 = du[(4 * i + 3) * es];
    t[i][0] = d0 + T(0.5) * (d1 + d2);
    t[i][1] = T(0.5) * (d1 - d2);
    t[i][2] = T(0.5) * (d1 + d2) + d3;
  }
  for (int j = 0; j < 3; ++j) {
    g[j] = t[0][j] + T(0.5) * (t[1][j] + t[2][j]);
    g[3 + j] = T(0.5) * (t[1][j] - t[2][j]);
    g[6 + j] = T(0.5) * (t[1][j] + t[2][j]) + t[3][j];
  }
}

// The F(2x2, 3x3) tile as the engine (winograd_conv.h) sees it; a patch's rows
// start rs apart from p, a tile's output row i, column j goes to o + i * rs + j * cs.
struct WinogradF2 {
  static constexpr int64_t m = 2, elems = 16;  // outputs per side, Winograd-domain values per tile
  template <typename T>
  static void input(const T* p, int64_t rs, int64_t go, int64_t n, T* v, int64_t es) {
    winograd_input_tiles(p, p + rs, p + 2 * rs, p + 3 * rs, go, n, v, es);
  }
  template <typename T>
  static void output(const T* mv, int64_t es, int64_t n, T* o, int64_t rs, int64_t cs) {
    winograd_output_tiles(mv, es, n, o, o + cs, o + rs, o + rs + cs);
  }
  template <typename T>
  static void grad(const T* p, int64_t rs, int64_t go, int64_t n, T* dm, int64_t es) {
    winograd_grad_tiles(p, p + rs, go, n, dm, es);
  }
  template <typename T>
  static void filter(const T* g, int64_t gs, T* u, int64_t es) { winograd_filter(g, gs, u, es); }
  template <typename T>
  static void filter_adjoint(const T* du, int64_t es, T* g) { winograd_filter_adjoint(du, es, g); }
};

}  // namespace dyconv::cpu
