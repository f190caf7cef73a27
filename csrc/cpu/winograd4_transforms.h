// The F(4x4, 3x3) Winograd transforms, the same four kernels as the F(2x2, 3x3)
// ones (winograd_transforms.h) over runs of n tiles side by side in memory:
//   input  V = B^T d B   (6x6 input patch d -> 36 Winograd-domain elements)
//   output Y = A^T M A   (36 elements -> 4x4 outputs)
//   output gradient dM = A dY A^T (4x4 -> 36), the adjoint of the output transform
//   filter U = G g G^T (3x3 -> 36) and its adjoint dg = G^T dU G
// from the Toom-Cook construction on the points (0, 1, -1, 2, -1/2, infinity):
//   B^T = [1 3/2 -2 -3/2 1 0; 0 -1 -5/2 -1/2 1 0; 0 1 1/2 -5/2 1 0;
//          0 -1/2 -1 1/2 1 0; 0 2 -1 -2 1 0; 0 1 3/2 -2 -3/2 1],
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -1/2 0; 0 1 1 4 1/4 0; 0 1 -1 8 -1/8 1],
//   G = [1 0 0; -1/3 -1/3 -1/3; 1/3 -1/3 1/3; 1/15 2/15 4/15; -16/15 8/15 -4/15; 0 0 1].
// Of the point sets measured in float32 (benchmarks/winograd_tile_error.py) these
// gave the smallest error: 2.5e-6 of the largest output against 7.6e-6 for
// Lavin's (0, +-1, +-2) and 6.4e-6 for (0, +-1, +-1/2), 96->96 on a 66x66 map. B^T
// and A^T have dyadic entries (exact in float); the thirds and fifteenths, which
// are not, are all in G = diag(1, -1/3, 1/3, 1/15, -4/15, 1) G' (G' integer): U is
// G' g G'^T with each element multiplied by one constant, one rounding per value
// (and no division: dividing by 3 and 15 made the filter transforms 1.4x slower).
// Element e = 6 * i + j of a tile is at dst + e * es + tile. A tile's columns are
// `dilation` apart in the image, each image row stored with its columns grouped by
// remainder mod 4 * dilation (winograd_conv.h): column j of the n tiles is the run
// of n values at p + (j % 4) * go + j / 4 (go: the next column's group).
#pragma once

#include <cstdint>

#include "cpu/row_kernels.h"  // DYCONV_SIMD_CLONES

namespace dyconv::cpu {

namespace winograd4_detail {

// The 1-D transforms take and return values, never arrays or references: inside
// the `omp simd` loops below, a local whose address is taken becomes an array of
// lanes in memory and GCC 12 then leaves the loop scalar (a first version with
// arrays did: its input transform was 24% of a layer-3 call's profile, not 10%).
template <typename T>
struct Six {
  T v0, v1, v2, v3, v4, v5;
};
template <typename T>
struct Four {
  T v0, v1, v2, v3;
};
template <typename T>
struct Three {
  T v0, v1, v2;
};

// B^T d.
template <typename T>
inline Six<T> bt(T d0, T d1, T d2, T d3, T d4, T d5) {
  const T a = d4 - d2, b = d1 - d3;
  return {d0 - d2 + (a + T(1.5) * b), a - b - T(1.5) * (d2 + d3), a + b + T(1.5) * (d2 - d3),
          a - T(0.5) * b,             a + T(2) * b,               d5 + b - d3 - T(1.5) * a};
}

// A^T m (6 -> 4).
template <typename T>
inline Four<T> at(T m0, T m1, T m2, T m3, T m4, T m5) {
  const T s = m1 + m2, t = m1 - m2;
  return {m0 + s + m3 + m4, t + T(2) * m3 - T(0.5) * m4, s + T(4) * m3 + T(0.25) * m4,
          t + T(8) * m3 - T(0.125) * m4 + m5};
}

// A y (4 -> 6), the adjoint of at.
template <typename T>
inline Six<T> a(T y0, T y1, T y2, T y3) {
  const T e = y0 + y2, o = y1 + y3;
  return {y0, e + o, e - o, y0 + T(2) * y1 + T(4) * y2 + T(8) * y3, y0 - T(0.5) * y1 + T(0.25) * y2 - T(0.125) * y3,
          y3};
}

// G = diag(kRowScale) G' with G' = [1 0 0; 1 1 1; 1 -1 1; 1 2 4; 4 -2 1; 0 0 1].
constexpr double kRowScale[6] = {1, -1.0 / 3, 1.0 / 3, 1.0 / 15, -4.0 / 15, 1};

// G' g (3 -> 6).
template <typename T>
inline Six<T> g(T g0, T g1, T g2) {
  const T e = g0 + g2;
  return {g0, e + g1, e - g1, g0 + T(2) * g1 + T(4) * g2, T(4) * g0 - T(2) * g1 + g2, g2};
}

// G'^T u (6 -> 3), the adjoint of g.
template <typename T>
inline Three<T> gt(Six<T> u) {
  return {u.v0 + u.v1 + u.v2 + u.v3 + T(4) * u.v4, u.v1 - u.v2 + T(2) * (u.v3 - u.v4),
          u.v1 + u.v2 + T(4) * u.v3 + u.v4 + u.v5};
}

// Element (i, j) of a tile scaled by kRowScale[i] * kRowScale[j] (one rounding).
template <typename T>
inline Six<T> scale_row(Six<T> r, int i) {
  const double s = kRowScale[i];
  return {r.v0 * T(s * kRowScale[0]), r.v1 * T(s * kRowScale[1]), r.v2 * T(s * kRowScale[2]),
          r.v3 * T(s * kRowScale[3]), r.v4 * T(s * kRowScale[4]), r.v5 * T(s * kRowScale[5])};
}

// B^T along one input row of a tile: its columns at r + 0, go, 2 go, 3 go, 1, go + 1.
template <typename T>
inline Six<T> input_row(const T* r, int64_t go) {
  return bt(r[0], r[go], r[2 * go], r[3 * go], r[1], r[go + 1]);
}

// A^T along one row of M: its elements es apart.
template <typename T>
inline Four<T> output_row(const T* m, int64_t es) {
  return at(m[0], m[es], m[2 * es], m[3 * es], m[4 * es], m[5 * es]);
}

template <typename T>
inline void store(T* d, int64_t s, Six<T> v) {
  d[0] = v.v0, d[s] = v.v1, d[2 * s] = v.v2, d[3 * s] = v.v3, d[4 * s] = v.v4, d[5 * s] = v.v5;
}

template <typename T>
inline void store(T* d, int64_t s, Four<T> v) {
  d[0] = v.v0, d[s] = v.v1, d[2 * s] = v.v2, d[3 * s] = v.v3;
}

}  // namespace winograd4_detail

// V of n tiles whose six input rows start rs apart from p.
template <typename T>
DYCONV_SIMD_CLONES void winograd4_input_tiles(const T* __restrict p, int64_t rs, int64_t go, int64_t n,
                                              T* __restrict dst, int64_t es) {
  using namespace winograd4_detail;
#pragma omp simd
  for (int64_t k = 0; k < n; ++k) {
    const T* r = p + k;  // B^T along each row
    const Six<T> a = input_row(r, go), b = input_row(r + rs, go), c = input_row(r + 2 * rs, go);
    const Six<T> d = input_row(r + 3 * rs, go), e = input_row(r + 4 * rs, go), f = input_row(r + 5 * rs, go);
    T* v = dst + k;  // and down the columns: element 6 i + j
    store(v, 6 * es, bt(a.v0, b.v0, c.v0, d.v0, e.v0, f.v0));
    store(v + es, 6 * es, bt(a.v1, b.v1, c.v1, d.v1, e.v1, f.v1));
    store(v + 2 * es, 6 * es, bt(a.v2, b.v2, c.v2, d.v2, e.v2, f.v2));
    store(v + 3 * es, 6 * es, bt(a.v3, b.v3, c.v3, d.v3, e.v3, f.v3));
    store(v + 4 * es, 6 * es, bt(a.v4, b.v4, c.v4, d.v4, e.v4, f.v4));
    store(v + 5 * es, 6 * es, bt(a.v5, b.v5, c.v5, d.v5, e.v5, f.v5));
  }
}

// Y of n tiles from M (element e at m + e * es): output row i, column j of
// every tile to o[i * rs + j * cs + k].
template <typename T>
DYCONV_SIMD_CLONES void winograd4_output_tiles(const T* __restrict m, int64_t es, int64_t n, T* __restrict o,
                                               int64_t rs, int64_t cs) {
  using namespace winograd4_detail;
#pragma omp simd
  for (int64_t k = 0; k < n; ++k) {
    const T* q = m + k;  // A^T along each row
    const Four<T> a = output_row(q, es), b = output_row(q + 6 * es, es), c = output_row(q + 12 * es, es);
    const Four<T> d = output_row(q + 18 * es, es), e = output_row(q + 24 * es, es), f = output_row(q + 30 * es, es);
    T* y = o + k;  // and down the columns
    store(y, rs, at(a.v0, b.v0, c.v0, d.v0, e.v0, f.v0));
    store(y + cs, rs, at(a.v1, b.v1, c.v1, d.v1, e.v1, f.v1));
    store(y + 2 * cs, rs, at(a.v2, b.v2, c.v2, d.v2, e.v2, f.v2));
    store(y + 3 * cs, rs, at(a.v3, b.v3, c.v3, d.v3, e.v3, f.v3));
  }
}

// dM = A dY A^T of n tiles whose four output-gradient rows start rs apart from p.
template <typename T>
DYCONV_SIMD_CLONES void winograd4_grad_tiles(const T* __restrict p, int64_t rs, int64_t go, int64_t n,
                                             T* __restrict dst, int64_t es) {
  using namespace winograd4_detail;
#pragma omp simd
  for (int64_t k = 0; k < n; ++k) {
    const T *r0 = p + k, *r1 = r0 + rs, *r2 = r0 + 2 * rs, *r3 = r0 + 3 * rs;  // A along each row
    const Six<T> w0 = a(r0[0], r0[go], r0[2 * go], r0[3 * go]), w1 = a(r1[0], r1[go], r1[2 * go], r1[3 * go]);
    const Six<T> w2 = a(r2[0], r2[go], r2[2 * go], r2[3 * go]), w3 = a(r3[0], r3[go], r3[2 * go], r3[3 * go]);
    T* v = dst + k;  // and down the columns
    store(v, 6 * es, a(w0.v0, w1.v0, w2.v0, w3.v0));
    store(v + es, 6 * es, a(w0.v1, w1.v1, w2.v1, w3.v1));
    store(v + 2 * es, 6 * es, a(w0.v2, w1.v2, w2.v2, w3.v2));
    store(v + 3 * es, 6 * es, a(w0.v3, w1.v3, w2.v3, w3.v3));
    store(v + 4 * es, 6 * es, a(w0.v4, w1.v4, w2.v4, w3.v4));
    store(v + 5 * es, 6 * es, a(w0.v5, w1.v5, w2.v5, w3.v5));
  }
}

// U = G g G^T = (G' g G'^T) scaled, of one 3x3 filter g (g[3 * i + j] at g + (3 * i + j) * gs) to u[e * es].
template <typename T>
inline void winograd4_filter(const T* f, int64_t gs, T* u, int64_t es) {
  using namespace winograd4_detail;
  const Six<T> c0 = g(f[0], f[3 * gs], f[6 * gs]), c1 = g(f[gs], f[4 * gs], f[7 * gs]);  // G' along each column
  const Six<T> c2 = g(f[2 * gs], f[5 * gs], f[8 * gs]);
  store(u, es, scale_row(g(c0.v0, c1.v0, c2.v0), 0));  // and along the rows: element 6 i + j
  store(u + 6 * es, es, scale_row(g(c0.v1, c1.v1, c2.v1), 1));
  store(u + 12 * es, es, scale_row(g(c0.v2, c1.v2, c2.v2), 2));
  store(u + 18 * es, es, scale_row(g(c0.v3, c1.v3, c2.v3), 3));
  store(u + 24 * es, es, scale_row(g(c0.v4, c1.v4, c2.v4), 4));
  store(u + 30 * es, es, scale_row(g(c0.v5, c1.v5, c2.v5), 5));
}

// dg = G^T dU G = G'^T (dU scaled) G' (the adjoint of winograd4_filter): dU[e] at du + e * es, dg[3 * i + j] to f.
template <typename T>
inline void winograd4_filter_adjoint(const T* du, int64_t es, T* f) {
  using namespace winograd4_detail;
  Three<T> t[6];  // dU G, row by row
  for (int i = 0; i < 6; ++i) {
    const T* r = du + 6 * i * es;
    t[i] = gt(scale_row(Six<T>{r[0], r[es], r[2 * es], r[3 * es], r[4 * es], r[5 * es]}, i));
  }
  const Three<T> c0 = gt(Six<T>{t[0].v0, t[1].v0, t[2].v0, t[3].v0, t[4].v0, t[5].v0});  // and down the columns
  const Three<T> c1 = gt(Six<T>{t[0].v1, t[1].v1, t[2].v1, t[3].v1, t[4].v1, t[5].v1});
  const Three<T> c2 = gt(Six<T>{t[0].v2, t[1].v2, t[2].v2, t[3].v2, t[4].v2, t[5].v2});
  f[0] = c0.v0, f[1] = c1.v0, f[2] = c2.v0;
  f[3] = c0.v1, f[4] = c1.v1, f[5] = c2.v1;
  f[6] = c0.v2, f[7] = c1.v2, f[8] = c2.v2;
}

// The F(4x4, 3x3) tile as the engine sees it (the interface of WinogradF2).
struct WinogradF4 {
  static constexpr int64_t m = 4, elems = 36;
  template <typename T>
  static void input(const T* p, int64_t rs, int64_t go, int64_t n, T* v, int64_t es) {
    winograd4_input_tiles(p, rs, go, n, v, es);
  }
  template <typename T>
  static void output(const T* mv, int64_t es, int64_t n, T* o, int64_t rs, int64_t cs) {
    winograd4_output_tiles(mv, es, n, o, rs, cs);
  }
  template <typename T>
  static void grad(const T* p, int64_t rs, int64_t go, int64_t n, T* dm, int64_t es) {
    winograd4_grad_tiles(p, rs, go, n, dm, es);
  }
  template <typename T>
  static void filter(const T* g, int64_t gs, T* u, int64_t es) { winograd4_filter(g, gs, u, es); }
  template <typename T>
  static void filter_adjoint(const T* du, int64_t es, T* g) { winograd4_filter_adjoint(du, es, g); }
};

}  // namespace dyconv::cpu
