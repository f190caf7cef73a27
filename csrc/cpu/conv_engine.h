// Per-sample convolution as GEMMs on im2col column tiles: the general engine
// (any stride; cpu/conv.h uses cpu/shifted_conv.h where that applies).
//
// Work is split into items (b, t): sample b, tile t of its output pixels.
// Each item builds the im2col tile of x[b] (sized to stay in cache) and runs
// one GEMM with weight[b]; callers hook into the tile while it is hot
// (forward epilogue: normalization statistics; backward: dy_span forms the
// output gradient of the tile).
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "checks.h"
#include "cpu/blas.h"
#include "cpu/im2col.h"
#include "cpu/workspace.h"

namespace dyconv::cpu {

struct TilePlan {
  int64_t tile;    // output pixels per tile
  int64_t ntiles;  // tiles per sample
  int64_t items;   // B * ntiles
  int64_t begin(int64_t t, int64_t N) const { return t * tile; }
  int64_t end(int64_t t, int64_t N) const { return std::min(N, (t + 1) * tile); }
};

// Whether im2col(x[b]) is x[b] itself (a 1x1 kernel at stride 1 without padding: K = Cin rows of N
// pixels): the GEMMs then read the input, and write the input gradient, in place, with no copy or scatter
// (CondConv's 672->112 at 8x8, batch 16: forward + backward 0.85x the grouped idiom with the copies).
inline bool im2col_is_input(const ConvGeometry& g) {
  return g.kH == 1 && g.kW == 1 && g.sH == 1 && g.sW == 1 && g.pH == 0 && g.pW == 0;
}

// Tiles of about 256 KiB of im2col columns (L2-resident), a multiple of 16 pixels.
template <typename T>
TilePlan plan_tiles(const ConvGeometry& g) {
  const int64_t N = g.N();
  int64_t tile = (int64_t(256) * 1024 / int64_t(sizeof(T))) / std::max<int64_t>(1, g.K());
  tile = std::max<int64_t>(64, tile / 16 * 16);
  // Enough tiles to keep every thread busy when the batch is small.
  const int64_t threads = at::get_num_threads();
  if (g.B < threads) {
    const int64_t per_thread = (N + threads - 1) / threads;
    tile = std::min(tile, std::max<int64_t>(64, (per_thread + 15) / 16 * 16));
  }
  tile = std::min(tile, N);
  const int64_t ntiles = (N + tile - 1) / tile;
  return {tile, ntiles, g.B * ntiles};
}

// y[b] (Cout, N) = weight[b] (Cout, K) @ im2col(x[b]); epilogue(b, t, n0, n1)
// runs after each tile's GEMM. x, w, y contiguous.
template <typename T, typename Epilogue>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, T* y, Epilogue&& epilogue) {
  const TilePlan p = plan_tiles<T>(g);
  const int64_t K = g.K(), N = g.N(), Cout = g.Cout;
  const bool in_place = im2col_is_input(g);
  at::parallel_for(0, p.items, 1, [&](int64_t begin, int64_t end) {
    Workspace<T> cols(in_place ? 0 : K * p.tile);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / p.ntiles, t = item % p.ntiles;
      const int64_t n0 = p.begin(t, N), n1 = p.end(t, N), nt = n1 - n0;
      const T* c = x + b * g.Cin * g.H * g.W + n0;
      int64_t ldc = N;
      if (!in_place) {
        im2col_tile(g, x + b * g.Cin * g.H * g.W, n0, n1, cols.data());
        c = cols.data(), ldc = nt;
      }
      // Row-major Y(Cout, nt) = W(Cout, K) @ C(K, nt), i.e. column-major Y^T = C^T W^T.
      gemm(false, false, nt, Cout, K, T(1), c, ldc, w + b * Cout * K, K, T(0), y + b * Cout * N + n0, N);
      epilogue(b, t, n0, n1);
    }
  });
}

// Gradients of the convolution from dy (B, Cout, N):
//   dw[b] = dy[b] @ im2col(x[b])^T, dx[b] = col2im(weight[b]^T @ dy[b]).
// dx and dw may be null (not needed); both are overwritten (no zero-fill needed: a
// separate pass over the per-sample weight gradient, 302 MB for ODConv's 512->512
// 3x3 at batch 32, 8 % of CondConv's 192->1152 1x1 at 4x4). dy is supplied a
// tile at a time by dy_span(b, c, n0, n1, dst): dy[b, c, n0:n1] written to dst.
// Deterministic: a sample whose tiles are split between threads is summed from
// its per-thread parts after the parallel loop, in tile order.
template <typename T, typename DySpan>
void conv_backward(const ConvGeometry& g, const T* x, const T* w, T* dx, T* dw,
                   DySpan&& dy_span) {
  const TilePlan p = plan_tiles<T>(g);
  const int64_t K = g.K(), N = g.N(), Cout = g.Cout, in_size = g.Cin * g.H * g.W;
  struct Part {
    int64_t b, t0;  // sample, first tile
    std::vector<T> dx, dw;
  };
  std::vector<Part> parts;  // of samples split between threads
  std::mutex parts_lock;
  const bool in_place = im2col_is_input(g);
  at::parallel_for(0, p.items, 1, [&](int64_t begin, int64_t end) {
    Workspace<T> cols(in_place ? 0 : K * p.tile), dyt(Cout * p.tile);
    Workspace<T> dw_local(dw ? Cout * K : 0);
    std::vector<T> dx_local;
    int64_t item = begin;
    while (item < end) {
      const int64_t b = item / p.ntiles;
      const int64_t t0 = item % p.ntiles, t1 = std::min(p.ntiles, t0 + (end - item));
      // A sample whose tiles all belong to this thread is written directly.
      const bool whole = t0 == 0 && t1 == p.ntiles;
      T* dxb = dx ? dx + b * in_size : nullptr;
      if (dx && !whole) {
        dx_local.assign(in_size, T(0));
        dxb = dx_local.data();
      } else if (dx && !in_place) {
        std::fill(dxb, dxb + in_size, T(0));  // col2im adds into it
      }
      T* dwb = dw ? (whole ? dw + b * Cout * K : dw_local.data()) : nullptr;
      const T* wb = w + b * Cout * K;
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n0 = p.begin(t, N), n1 = p.end(t, N), nt = n1 - n0;
        for (int64_t c = 0; c < Cout; ++c) dy_span(b, c, n0, n1, dyt.data() + c * nt);
        if (dwb) {
          const T* c = x + b * in_size + n0;
          int64_t ldc = N;
          if (!in_place) {
            im2col_tile(g, x + b * in_size, n0, n1, cols.data());
            c = cols.data(), ldc = nt;
          }
          // Row-major dW(Cout, K) += dY(Cout, nt) @ C(K, nt)^T.
          gemm(true, false, K, Cout, nt, T(1), c, ldc, dyt.data(), nt, T(t == t0 ? 0 : 1), dwb, K);
        }
        if (dxb) {
          // Row-major dC(K, nt) = W(Cout, K)^T @ dY(Cout, nt), into dx itself when C is x (each pixel in
          // one tile: written once), else scattered by col2im.
          T* dc = in_place ? dxb + n0 : cols.data();
          gemm(false, true, nt, K, Cout, T(1), dyt.data(), nt, wb, K, T(0), dc, in_place ? N : nt);
          if (!in_place) col2im_tile(g, cols.data(), n0, n1, dxb);
        }
      }
      if (!whole) {
        Part part{b, t0, {}, {}};
        if (dx) part.dx = std::move(dx_local);
        if (dw) part.dw.assign(dw_local.data(), dw_local.data() + Cout * K);
        std::lock_guard<std::mutex> lock(parts_lock);
        parts.push_back(std::move(part));
      }
      item += t1 - t0;
    }
  });
  // Sum the parts in (sample, tile) order, whatever order the threads finished in: a
  // sample's first part is copied, the others added.
  std::sort(parts.begin(), parts.end(),
            [](const Part& a, const Part& b) { return a.b != b.b ? a.b < b.b : a.t0 < b.t0; });
  auto sum = [](T* dst, const std::vector<T>& src, bool first) {
    if (first) std::copy(src.begin(), src.end(), dst);
    else for (size_t i = 0; i < src.size(); ++i) dst[i] += src[i];
  };
  for (size_t i = 0; i < parts.size(); ++i) {
    const Part& part = parts[i];
    const bool first = i == 0 || parts[i - 1].b != part.b;
    if (dx) sum(dx + part.b * in_size, part.dx, first);
    if (dw) sum(dw + part.b * Cout * K, part.dw, first);
  }
}

}  // namespace dyconv::cpu
