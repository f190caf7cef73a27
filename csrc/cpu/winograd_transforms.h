// The F(2x2, 3x3) Winograd transforms (Lavin & Gray 2016), each over a run of
// n tiles that lie side by side in memory, so the loops vectorise across tiles:
//   input  V = B^T d B   (4x4 input patch d -> 16 Winograd-domain elements)
//   output Y = A^T M A   (16 elements -> 2x2 outputs)
//   output gradient dM = A dY A^T (2x2 -> 16), the adjoint of the output transform
//   filter U = G g G^T (3x3 -> 16) and its adjoint dg = G^T dU G
// with
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  A^T = [1 1 1 0; 0 1 -1 -1],
//   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
// Element e = 4 * i + j of a tile is written at dst + e * es + tile.
// A tile's columns j (and rows i) are `dilation` apart in the image; the callers
// store each image row with its columns grouped by their remainder mod
// 2 * dilation (winograd_conv.h), so columns 0, 1, 2, 3 of the n tiles are the
// n consecutive values at p, p + go, p + 1, p + go + 1 (go: one group further).
#pragma once

#include <cstdint>

#include "cpu/row_kernels.h"  // DYCONV_SIMD_CLONES

namespace dyconv::cpu {

// B^T applied to the four columns of one input row of tile k.
template <typename T>
inline void winograd_input_row(const T* __restrict row, int64_t go, int64_t k, T t[4]) {
  const T d0 = row[k], d1 = row[go + k], d2 = row[k + 1], d3 = row[go + k + 1];
  t[0] = d0 - d2;
  t[1] = d1 + d2;
  t[2] = d2 - d1;
  t[3] = d1 - d3;
}

// V of n tiles whose four input rows start at r0..r3.
template <typename T>
DYCONV_SIMD_CLONES void winograd_input_tiles(const T* __restrict r0, const T* __restrict r1,
                                             const T* __restrict r2, const T* __restrict r3,
                                             int64_t go, int64_t n, T* __restrict dst, int64_t es) {
#pragma omp simd
  for (int64_t k = 0; k < n; ++k) {
    T t0[4], t1[4], t2[4], t3[4];
    winograd_input_row(r0, go, k, t0);
    winograd_input_row(r1, go, k, t1);
    winograd_input_row(r2, go, k, t2);
    winograd_input_row(r3, go, k, t3);
    for (int c = 0; c < 4; ++c) {
      dst[(0 + c) * es + k] = t0[c] - t2[c];
      dst[(4 + c) * es + k] = t1[c] + t2[c];
      dst[(8 + c) * es + k] = t2[c] - t1[c];
      dst[(12 + c) * es + k] = t1[c] - t3[c];
    }
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

}  // namespace dyconv::cpu
