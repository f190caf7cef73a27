// Stride-1 3x3 per-sample convolution in the Winograd domain, F(m x m, 3x3) for
// a Tile of m = 2 (16 multiplications per 2x2 output tile instead of 36;
// winograd_transforms.h) or m = 4 (36 per 4x4 tile instead of 144, with a larger
// float32 error; winograd4_transforms.h). The tile size is the engine's
// (Engine::Winograd, Engine::Winograd4: cpu/engines.h).
//
// Dilation d: output rows (columns) congruent mod d only read input rows
// (columns) congruent mod d, so a tile is m x m outputs d apart reading an
// (m + 2) x (m + 2) input patch d apart. Tiles are laid out per "tile row" (a row
// phase r < dH and a band of m dH output rows: output rows r + m dH band + i dH,
// i < m), and within it per column phase s < dW, k = 0..KW-1 (output columns
// s + m dW k + j dW, j < m). Each padded input row is first copied with its
// columns grouped by their remainder mod m dW ("deinterleaved"), so the patches
// of the KW tiles of one phase are contiguous runs and the transforms vectorise
// across tiles with plain loads. Tiles past the output's last row or column
// read zero padding and their outputs are dropped (at the paper's 40 rows and
// dilation 4, a phase's 10 rows are 3 bands of 4 for m = 4: 20% of its tile rows
// computed for nothing).
//
// Per block of tile rows (sized to stay in L2): V = input transform (E, Cin,
// tiles), E = (m + 2)^2; E GEMMs M_e (Cout, tiles) = U_e (Cout, Cin) @ V_e,
// U = G w G^T per sample; output transform into y. The epilogue runs per band.
// Backward:
//   dx = the same pass over the zero-padded dy (padding 2d - p) with the
//        flipped, transposed filters;
//   dW = G^T (sum over tiles of dM_e V_e^T) G, dM = A dY A^T: the exact adjoint
//        of the forward, E GEMMs (Cout, tiles) @ (tiles, Cin) per block.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "checks.h"
#include "cpu/blas.h"
#include "cpu/conv_engine.h"
#include "cpu/part_sums.h"
#include "cpu/winograd4_transforms.h"
#include "cpu/winograd_transforms.h"
#include "cpu/workspace.h"

namespace dyconv::cpu {

// 3x3, stride 1, padding no larger than the kernel's reach (dy's padding for the
// input gradient, 2 d - p, is then >= 0).
inline bool winograd_conv_applies(const ConvGeometry& g) {
  return g.kH == 3 && g.kW == 3 && g.sH == 1 && g.sW == 1 && g.pH <= 2 * g.dH && g.pW <= 2 * g.dW;
}

// One Winograd pass: a 3x3 convolution with dilation (dH, dW) of a (C, Hi, Wi)
// image zero-padded by (top, left) to a (Ho, Wo) output, in tiles of m x m outputs.
struct WinogradGrid {
  int64_t Hi, Wi, Ho, Wo, top, left, dH, dW, m;
  int64_t KH;  // bands of m dH output rows
  int64_t KW;  // tiles per column phase in a tile row
  int64_t gl;  // values per column group of a deinterleaved row (KW + 1: a patch's m + 2 <= 2 m columns)
  int64_t rl;  // values per deinterleaved row (m dW groups)
  int64_t row_tiles() const { return dW * KW; }
  int64_t band_rows() const { return m * dH; }
};

inline WinogradGrid winograd_grid(int64_t Hi, int64_t Wi, int64_t Ho, int64_t Wo, int64_t top,
                                  int64_t left, int64_t dH, int64_t dW, int64_t m) {
  WinogradGrid q{Hi, Wi, Ho, Wo, top, left, dH, dW, m};
  q.KH = ((Ho + dH - 1) / dH + m - 1) / m;  // row phase 0 has ceil(Ho / dH) rows, m per tile
  q.KW = ((Wo + dW - 1) / dW + m - 1) / m;
  q.gl = q.KW + 1;
  q.rl = m * dW * q.gl;
  return q;
}

struct WinogradPlan {
  WinogradGrid fwd;  // x -> y (also the grid of the weight gradient)
  WinogradGrid bwd;  // padded dy -> dx
  WinogradGrid dyg;  // dy on the forward's tile grid (no padding): the weight gradient's dY
  int64_t parts;     // parts each sample is split into (by bands)
  int64_t nr_fwd, nr_bwd;  // tile rows per block
  TilePlan out;      // bands of the forward output, the unit of the forward epilogue

  static void range(int64_t n, int64_t parts, int64_t part, int64_t& b0, int64_t& b1) {
    b0 = part * n / parts;
    b1 = (part + 1) * n / parts;
  }
};

namespace winograd_detail {

// A leading dimension >= n whose byte size is not a multiple of 4 KiB.
template <typename T>
int64_t unaliased(int64_t n) {
  return (n * int64_t(sizeof(T))) % 4096 == 0 ? n + 64 / int64_t(sizeof(T)) : n;
}

// Tile rows per block: the block's V and M (E x (Cin + Cout) x tiles) in about 1.5 MiB,
// but at least min_gemm_tiles tiles (the GEMMs' m): wide layers would otherwise get
// a row or two of tiles per block, and BLAS runs a GEMM with m = 19 at a third of
// its rate at m >= 128 (MKL, 512x512, one core: 29 vs 87-98 GFLOP/s), and repacks
// the GEMM's U_e (Cin x Cout) for every block: the wider the layer, the more tiles.
// 512->512 3x3 fwd+bwd vs the grouped F.conv2d idiom, 2 threads, alternating: 128 ->
// 512 tiles 1.30x -> 1.41x (36x36), 1.57x -> 1.74x (64x64); on the paper's 96->96
// d4 layer 512 tiles were 7% slower than 128 (its V and M then 6 MiB).
inline int64_t min_gemm_tiles(int64_t Cin, int64_t Cout) {
  return std::clamp<int64_t>(Cin * Cout / 512, 128, 512);
}

template <typename T>
int64_t rows_per_block(const WinogradGrid& q, int64_t elems, int64_t Cin, int64_t Cout) {
  const int64_t per_row = elems * (Cin + Cout) * q.row_tiles() * int64_t(sizeof(T));
  const int64_t mt = min_gemm_tiles(Cin, Cout);
  const int64_t rows = std::max(int64_t(3) * 512 * 1024 / per_row, (mt + q.row_tiles() - 1) / q.row_tiles());
  return std::clamp<int64_t>(rows, 1, q.KH * q.dH);
}

// f(k0, m) over the tiles [0, n) of a column phase in runs whose length is a
// multiple of one 64-byte vector, the last run overlapping the one before
// (its tiles are computed twice, the same values): with n = 31 tiles (the
// paper's 248 frames at dilation 4) a plain loop would leave 15 of them to
// the scalar remainder of the vectorised transform.
template <typename T, typename F>
inline void over_tiles(int64_t n, F&& f) {
  constexpr int64_t lanes = 64 / int64_t(sizeof(T));
  if (n <= lanes || n % lanes == 0) return f(int64_t(0), n);
  f(int64_t(0), n - n % lanes);
  f(n - lanes, lanes);
}

// Padded rows [row0, row1) of C channels, deinterleaved, to dst (channel c at
// dst + c * cs): value at padded column g + m dW idx to dst[g * gl + idx].
// row_of(c, r) points at image row r (0 <= r < Hi) of channel c.
template <typename T, typename RowOf>
void deinterleave(const WinogradGrid& q, int64_t C, int64_t row0, int64_t row1, T* dst, int64_t cs,
                  RowOf&& row_of) {
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t pr = row0; pr < row1; ++pr) {
      T* d = dst + c * cs + (pr - row0) * q.rl;
      const int64_t r = pr - q.top;
      if (r < 0 || r >= q.Hi) std::fill(d, d + q.rl, T(0));
      else winograd_deinterleave_row(row_of(c, r), q.Wi, q.left, q.m * q.dW, q.gl, d);
    }
  }
}

// The input transform of the tile rows [t0, t1) of C channels of the
// deinterleaved image D (padded rows from row0) to V (element e, channel c,
// tile at V + e * es + c * ld + tile).
template <typename Tile, typename T>
void input_transform(const WinogradGrid& q, int64_t C, const T* D, int64_t cs, int64_t row0, int64_t t0,
                     int64_t t1, T* V, int64_t ld, int64_t es) {
  const int64_t go = q.dW * q.gl, rt = q.row_tiles();
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r = t % q.dH, m = t / q.dH;
      const T* p = D + c * cs + (r + q.band_rows() * m - row0) * q.rl;
      const int64_t rs = q.dH * q.rl;
      for (int64_t s = 0; s < q.dW; ++s) {
        T* v = V + c * ld + (t - t0) * rt + s * q.KW;
        over_tiles<T>(q.KW, [&](int64_t k0, int64_t n) {
          Tile::input(p + s * q.gl + k0, rs, go, n, v + k0, es);
        });
      }
    }
  }
}

// M (element e, channel c at M + e * es + c * ld) of tile rows [t0, t1) through
// the output transform into out (C, Ho, Wo). ob: m^2 dW KW scratch, m output rows
// with their columns grouped by remainder mod m dW.
template <typename Tile, typename T>
void output_transform(const WinogradGrid& q, int64_t C, const T* M, int64_t ld, int64_t es, int64_t t0,
                      int64_t t1, T* ob, T* out) {
  const int64_t rt = q.row_tiles(), step = q.m * q.dW, row = step * q.KW;
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t r = t % q.dH, m = t / q.dH;
    const int64_t oh0 = r + q.band_rows() * m;
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t s = 0; s < q.dW; ++s) {
        over_tiles<T>(q.KW, [&](int64_t k0, int64_t n) {
          const int64_t k = s * q.KW + k0;  // column j of the tiles: group s + j dW
          Tile::output(M + c * ld + (t - t0) * rt + k, es, n, ob + k, row, rt);
        });
      }
      for (int64_t i = 0; i < q.m; ++i) {
        const int64_t oh = oh0 + i * q.dH;
        if (oh >= q.Ho) break;
        winograd_interleave_row(ob + i * row, q.KW, step, q.Wo, out + (c * q.Ho + oh) * q.Wo);
      }
    }
  }
}

// out bands [m0, m1) of the convolution of the deinterleaved image D (padded rows
// from m dH m0) with the transformed filters U (E, Cout, Cin), nr tile rows per
// block; band_done(m) after band m is written.
template <typename Tile, typename T, typename BandDone>
void conv_bands(const WinogradGrid& q, int64_t Cin, int64_t Cout, const T* D, int64_t cs, const T* U,
                int64_t m0, int64_t m1, int64_t nr, T* V, T* M, int64_t ld, T* ob, T* out,
                BandDone&& band_done) {
  const int64_t row0 = q.band_rows() * m0, rt = q.row_tiles();
  int64_t next_band = m0;
  for (int64_t t0 = m0 * q.dH; t0 < m1 * q.dH; t0 += nr) {
    const int64_t t1 = std::min(m1 * q.dH, t0 + nr), nt = (t1 - t0) * rt;
    input_transform<Tile>(q, Cin, D, cs, row0, t0, t1, V, ld, Cin * ld);
    for (int64_t e = 0; e < Tile::elems; ++e) {
      // Column-major M_e^T (nt, Cout) = V_e^T (nt, Cin) @ U_e^T (Cin, Cout).
      gemm(false, false, nt, Cout, Cin, T(1), V + e * Cin * ld, ld, U + e * Cout * Cin, Cin, T(0),
           M + e * Cout * ld, ld);
    }
    output_transform<Tile>(q, Cout, M, ld, Cout * ld, t0, t1, ob, out);
    while (next_band < m1 && (next_band + 1) * q.dH <= t1) band_done(next_band++);
  }
}

// U (E, Cout, Cin) of one sample's filters w (Cout, Cin, 3, 3); flipped: U
// (E, Cin, Cout) of the flipped, transposed filters (the input gradient's).
// 16 filters at a time into a small buffer, then E runs of 16 values to U: one
// value per filter straight to each of the 16 planes of U (1 MiB apart at 512->512)
// took 10% of a wide layer's forward.
template <typename Tile, typename T>
void transform_filters(int64_t Cout, int64_t Cin, const T* w, T* U, bool flipped) {
  constexpr int64_t blk = 16, E = Tile::elems;
  const int64_t es = Cout * Cin;
  T buf[E * blk];
  auto store = [&](T* dst, int64_t n) {
    for (int64_t e = 0; e < E; ++e) std::copy(buf + e * blk, buf + e * blk + n, dst + e * es);
  };
  if (!flipped) {
    for (int64_t co = 0; co < Cout; ++co)
      for (int64_t c0 = 0; c0 < Cin; c0 += blk) {
        const int64_t n = std::min(blk, Cin - c0);
        for (int64_t j = 0; j < n; ++j) Tile::filter(w + (co * Cin + c0 + j) * 9, 1, buf + j, blk);
        store(U + co * Cin + c0, n);
      }
    return;
  }
  for (int64_t c0 = 0; c0 < Cout; c0 += blk)
    for (int64_t ci = 0; ci < Cin; ++ci) {
      const int64_t n = std::min(blk, Cout - c0);
      for (int64_t j = 0; j < n; ++j) Tile::filter(w + ((c0 + j) * Cin + ci) * 9 + 8, -1, buf + j, blk);
      store(U + ci * Cout + c0, n);
    }
}

// dw (Cout * Cin filters of 9) = G^T dU G of dU (E, Cout, Cin), 16 filters at a time
// (their E planes' runs gathered first, as transform_filters scatters them).
template <typename Tile, typename T>
void adjoint_filters(int64_t filters, const T* dU, T* dw) {
  constexpr int64_t blk = 16, E = Tile::elems;
  T buf[E * blk];
  for (int64_t i0 = 0; i0 < filters; i0 += blk) {
    const int64_t n = std::min(blk, filters - i0);
    for (int64_t e = 0; e < E; ++e) std::copy(dU + e * filters + i0, dU + e * filters + i0 + n, buf + e * blk);
    for (int64_t j = 0; j < n; ++j) Tile::filter_adjoint(buf + j, blk, dw + (i0 + j) * 9);
  }
}

}  // namespace winograd_detail

template <typename Tile, typename T>
WinogradPlan plan_winograd(const ConvGeometry& g) {
  constexpr int64_t m = Tile::m, E = Tile::elems;
  WinogradPlan p{};
  p.fwd = winograd_grid(g.H, g.W, g.Hout, g.Wout, g.pH, g.pW, g.dH, g.dW, m);
  p.bwd = winograd_grid(g.Hout, g.Wout, g.H, g.W, 2 * g.dH - g.pH, 2 * g.dW - g.pW, g.dH, g.dW, m);
  p.dyg = winograd_grid(g.Hout, g.Wout, g.Hout, g.Wout, 0, 0, g.dH, g.dW, m);
  p.nr_fwd = winograd_detail::rows_per_block<T>(p.fwd, E, g.Cin, g.Cout);
  p.nr_bwd = winograd_detail::rows_per_block<T>(p.bwd, E, g.Cout, g.Cin);
  const int64_t threads = at::get_num_threads();
  p.parts = 1;
  if (g.B % threads != 0 && g.B < 8 * threads) p.parts = threads / std::gcd(g.B, threads);
  p.parts = std::max<int64_t>(1, std::min({p.parts, p.fwd.KH, p.bwd.KH}));
  p.out = {p.fwd.band_rows() * g.Wout, p.fwd.KH, g.B * p.fwd.KH};
  return p;
}

// y[b] (Cout, Hout, Wout) = conv(x[b], weight[b]); epilogue(b, t, n0, n1) runs
// after band t (output pixels [n0, n1) of sample b, plan.out) is written.
template <typename Tile, typename T, typename Epilogue>
void winograd_forward(const ConvGeometry& g, const WinogradPlan& p, const T* x, const T* w, T* y,
                      Epilogue&& epilogue) {
  using namespace winograd_detail;
  constexpr int64_t E = Tile::elems;
  const WinogradGrid& q = p.fwd;
  const int64_t bands_max = (q.KH + p.parts - 1) / p.parts, N = g.N();
  at::parallel_for(0, g.B * p.parts, 1, [&](int64_t begin, int64_t end) {
    // A band's patches reach (m + 2) dH <= 2 m dH padded rows: into the next band.
    const int64_t cs = unaliased<T>(q.band_rows() * (bands_max + 1) * q.rl);
    const int64_t ld = unaliased<T>(p.nr_fwd * q.row_tiles());
    Workspace<T> D(g.Cin * cs), V(E * g.Cin * ld), M(E * g.Cout * ld);
    Workspace<T> ob(q.m * q.m * q.row_tiles()), U(E * g.Cout * g.Cin);
    int64_t transformed = -1;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / p.parts, part = item % p.parts;
      int64_t m0, m1;
      WinogradPlan::range(q.KH, p.parts, part, m0, m1);
      if (m0 >= m1) continue;
      const T* xb = x + b * g.Cin * g.H * g.W;
      deinterleave(q, g.Cin, q.band_rows() * m0, q.band_rows() * (m1 + 1), D.data(), cs,
                   [&](int64_t c, int64_t r) { return xb + (c * g.H + r) * g.W; });
      if (transformed != b) {
        transform_filters<Tile>(g.Cout, g.Cin, w + b * g.Cout * g.Cin * 9, U.data(), false);
        transformed = b;
      }
      conv_bands<Tile>(q, g.Cin, g.Cout, D.data(), cs, U.data(), m0, m1, p.nr_fwd, V.data(), M.data(), ld,
                 ob.data(), y + b * g.Cout * N, [&](int64_t m) {
                   epilogue(b, m, m * p.out.tile, std::min(N, (m + 1) * p.out.tile));
                 });
    }
  });
}

// Gradients from dy, supplied by dy_span(b, c, n0, n1, dst): dy[b, c, n0:n1]
// (a span within one output row) written to dst. dx (B, Cin, H, W) and dw
// (B, Cout, Cin, 3, 3) may be null (not needed); neither needs zero-filling.
template <typename Tile, typename T, typename DySpan>
void winograd_backward(const ConvGeometry& g, const WinogradPlan& p, const T* x, const T* w, T* dx,
                       T* dw, DySpan&& dy_span) {
  using namespace winograd_detail;
  constexpr int64_t E = Tile::elems;
  const WinogradGrid &qf = p.fwd, &qb = p.bwd, &qy = p.dyg;
  const int64_t WK = g.Cout * g.Cin * 9, items = g.B * p.parts;
  const int64_t fb_max = (qf.KH + p.parts - 1) / p.parts, bb_max = (qb.KH + p.parts - 1) / p.parts;
  std::vector<T> partial(dw && p.parts > 1 ? items * WK : 0);
  at::parallel_for(0, items, 1, [&](int64_t begin, int64_t end) {
    const int64_t C = std::max(g.Cin, g.Cout);
    const int64_t ld = unaliased<T>(std::max(p.nr_fwd * qf.row_tiles(), p.nr_bwd * qb.row_tiles()));
    const int64_t xcs = unaliased<T>(qf.band_rows() * (fb_max + 1) * qf.rl);
    const int64_t ycs = unaliased<T>(qy.band_rows() * fb_max * qy.rl);
    const int64_t bcs = unaliased<T>(qb.band_rows() * (bb_max + 1) * qb.rl);
    Workspace<T> dyr(g.Wout), V(E * C * ld), M(E * C * ld);
    Workspace<T> Dx(dw ? g.Cin * xcs : 0), Dy(dw ? g.Cout * ycs : 0), Db(dx ? g.Cout * bcs : 0);
    Workspace<T> ob(dx ? qb.m * qb.m * qb.row_tiles() : 0), U(dx ? E * g.Cout * g.Cin : 0);
    Workspace<T> dU(dw ? E * g.Cout * g.Cin : 0);
    int64_t transformed = -1;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / p.parts, part = item % p.parts;
      int64_t f0 = 0, f1 = 0, b0 = 0, b1 = 0;  // bands of the weight gradient, of dx
      if (dw) WinogradPlan::range(qf.KH, p.parts, part, f0, f1);
      if (dx) WinogradPlan::range(qb.KH, p.parts, part, b0, b1);
      // Each dy row both gradients read is formed once and deinterleaved into
      // the padded dy of dx (Db, padded rows from bp0) and the dY of dw (Dy, rows from fp0).
      const int64_t bp0 = qb.band_rows() * b0, bp1 = qb.band_rows() * (b1 + 1);
      const int64_t fp0 = qy.band_rows() * f0, fp1 = qy.band_rows() * f1;
      const bool want_b = b0 < b1, want_f = f0 < f1;
      for (int64_t c = 0; c < g.Cout; ++c) {
        for (int64_t pr = bp0; want_b && pr < bp1; ++pr) {
          const int64_t r = pr - qb.top;
          if (r < 0 || r >= g.Hout) std::fill_n(Db.data() + c * bcs + (pr - bp0) * qb.rl, qb.rl, T(0));
        }
        for (int64_t r = fp0; want_f && r < fp1; ++r) {
          if (r >= g.Hout) std::fill_n(Dy.data() + c * ycs + (r - fp0) * qy.rl, qy.rl, T(0));
        }
        const int64_t lo = std::max<int64_t>(0, std::min(want_b ? bp0 - qb.top : g.Hout, want_f ? fp0 : g.Hout));
        const int64_t hi = std::min(g.Hout, std::max(want_b ? bp1 - qb.top : 0, want_f ? fp1 : 0));
        for (int64_t r = lo; r < hi; ++r) {
          const bool in_b = want_b && r + qb.top >= bp0 && r + qb.top < bp1, in_f = want_f && r >= fp0 && r < fp1;
          if (!in_b && !in_f) continue;
          dy_span(b, c, r * g.Wout, (r + 1) * g.Wout, dyr.data());
          if (in_b) winograd_deinterleave_row(dyr.data(), g.Wout, qb.left, qb.m * qb.dW, qb.gl,
                                              Db.data() + c * bcs + (r + qb.top - bp0) * qb.rl);
          if (in_f) winograd_deinterleave_row(dyr.data(), g.Wout, 0, qy.m * qy.dW, qy.gl,
                                              Dy.data() + c * ycs + (r - fp0) * qy.rl);
        }
      }
      if (want_b) {
        if (transformed != b) {
          transform_filters<Tile>(g.Cout, g.Cin, w + b * WK, U.data(), true);
          transformed = b;
        }
        conv_bands<Tile>(qb, g.Cout, g.Cin, Db.data(), bcs, U.data(), b0, b1, p.nr_bwd, V.data(), M.data(), ld,
                   ob.data(), dx + b * g.Cin * g.H * g.W, [](int64_t) {});
      }
      if (f0 >= f1) continue;
      const T* xb = x + b * g.Cin * g.H * g.W;
      deinterleave(qf, g.Cin, qf.band_rows() * f0, qf.band_rows() * (f1 + 1), Dx.data(), xcs,
                   [&](int64_t c, int64_t r) { return xb + (c * g.H + r) * g.W; });
      const int64_t rt = qf.row_tiles(), go = qy.dW * qy.gl;
      for (int64_t t0 = f0 * qf.dH; t0 < f1 * qf.dH; t0 += p.nr_fwd) {
        const int64_t t1 = std::min(f1 * qf.dH, t0 + p.nr_fwd), nt = (t1 - t0) * rt;
        input_transform<Tile>(qf, g.Cin, Dx.data(), xcs, qf.band_rows() * f0, t0, t1, V.data(), ld, g.Cin * ld);
        for (int64_t co = 0; co < g.Cout; ++co) {
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t r = t % qy.dH, m = t / qy.dH;
            const T* pr = Dy.data() + co * ycs + (r + qy.band_rows() * (m - f0)) * qy.rl;
            for (int64_t s = 0; s < qy.dW; ++s) {
              T* dm = M.data() + co * ld + (t - t0) * rt + s * qy.KW;
              over_tiles<T>(qy.KW, [&](int64_t k0, int64_t n) {
                Tile::grad(pr + s * qy.gl + k0, qy.dH * qy.rl, go, n, dm + k0, g.Cout * ld);
              });
            }
          }
        }
        for (int64_t e = 0; e < E; ++e) {
          // Column-major dU_e^T (Cin, Cout) += V_e (Cin, nt) @ dM_e^T (nt, Cout).
          gemm(true, false, g.Cin, g.Cout, nt, T(1), V.data() + e * g.Cin * ld, ld,
               M.data() + e * g.Cout * ld, ld, T(t0 == f0 * qf.dH ? 0 : 1), dU.data() + e * g.Cout * g.Cin,
               g.Cin);
        }
      }
      T* dst = p.parts > 1 ? partial.data() + item * WK : dw + b * WK;
      adjoint_filters<Tile>(g.Cout * g.Cin, dU.data(), dst);
    }
  });
  if (dw && p.parts > 1) {
    sum_part_gradients(partial.data(), g.B, p.parts, WK, dw, [&](int64_t part) {
      int64_t f0, f1;
      WinogradPlan::range(qf.KH, p.parts, part, f0, f1);
      return f0 < f1;
    });
  }
}

}  // namespace dyconv::cpu
