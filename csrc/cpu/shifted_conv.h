// Stride-1 per-sample convolution as one GEMM per kernel tap ("shifted GEMM"),
// with no im2col and no col2im.
//
// x[b] is copied once into a zero-padded buffer with row stride L. The output
// is computed on that padded-width grid: for tap (i, j) the input pixels of
// all output pixels of a tile of rows are the same buffer shifted by
// i*dH*L + j*dW, a plain strided matrix (Cin, nt) that BLAS reads in place, so
//   Y'(Cout, nt) = sum over taps W_ij (Cout, Cin) @ shift_ij(xp) (Cin, nt)
// with beta = 1 accumulation. The L - Wout columns past each output row are
// garbage and dropped when the tile is copied out.
// Backward, on the same kind of grid:
//   dx = the same convolution of the zero-padded dy (padding (k-1)*d - p) with
//        the flipped taps transposed, W_ij^T (Cin, Cout);
//   dW_ij (Cout, Cin) = dy' (Cout, nt) @ shift_ij(xp)^T, where dy' is the padded
//        dy seen on the grid of x: its dropped columns are padding zeros.
// The caller supplies dy one row span at a time (dy_span), so it can be formed
// on the fly from whatever the op saved.
// With plan.direct (float), the forward and the input gradient sum their taps
// in registers (cpu/direct_taps.h) instead of one GEMM per tap, and so does the
// weight gradient: faster with few channels.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

#include "checks.h"
#include "cpu/blas.h"
#include "cpu/conv_engine.h"
#include "cpu/direct_taps.h"
#include "cpu/part_sums.h"
#include "cpu/workspace.h"

namespace dyconv::cpu {

// Stride 1 and padding no larger than the kernel's reach (so dy's padding for
// the input gradient is >= 0): "same", "valid" and everything between.
inline bool shifted_conv_applies(const ConvGeometry& g) {
  return g.sH == 1 && g.sW == 1 && g.pH <= (g.kH - 1) * g.dH && g.pW <= (g.kW - 1) * g.dW;
}

struct ShiftedPlan {
  const DirectIsa* direct;  // taps summed in registers by these kernels (float only), or one GEMM per tap
  int64_t L;         // row stride of every padded buffer
  int64_t R;         // rows per GEMM tile
  int64_t parts;     // parts each sample is split into (1 unless the batch cannot fill the threads)
  int64_t pHd, pWd;  // padding of dy for the input gradient: (k - 1) * d - p
  int64_t haloH;     // (kH - 1) * dH: extra padded rows a tile of rows reads
  TilePlan out;      // tiles of output pixels (R rows each), the unit of the forward epilogue

  // Rows [r0, r1) of part `part` when `rows` rows are cut into tiles of R.
  void part_rows(int64_t rows, int64_t part, int64_t& r0, int64_t& r1) const {
    const int64_t ntiles = (rows + R - 1) / R;
    r0 = std::min(rows, part * ntiles / parts * R);
    r1 = std::min(rows, (part + 1) * ntiles / parts * R);
  }
};

template <typename T>
ShiftedPlan plan_shifted(const ConvGeometry& g, bool direct = false) {
  ShiftedPlan p{};
  if (direct && std::is_same_v<T, float>) p.direct = &direct_isa();
  p.pHd = (g.kH - 1) * g.dH - g.pH;
  p.pWd = (g.kW - 1) * g.dW - g.pW;
  p.haloH = (g.kH - 1) * g.dH;
  p.L = g.W + std::max(2 * g.pW, (g.kW - 1) * g.dW);
  if (p.direct) p.L = (p.L + 15) / 16 * 16;  // rows start on cache lines
  // A tile's GEMM operands (Cin + Cout rows of R * L) should stay in L2.
  // (Measured flat from 128 KiB to 4 MiB on the paper's 96->96 layer.)
  const int64_t budget = int64_t(512) * 1024 / int64_t(sizeof(T));
  p.R = std::clamp<int64_t>(budget / (p.L * (g.Cin + g.Cout)), 1, std::max(g.H, g.Hout));
  // Split samples only when whole samples would leave threads idle or unbalanced.
  const int64_t threads = at::get_num_threads();
  p.parts = 1;
  if (g.B % threads != 0 && g.B < 8 * threads) p.parts = threads / std::gcd(g.B, threads);
  p.parts = std::min(p.parts, std::min(g.H, g.Hout));
  if (p.parts > 1) p.R = std::min(p.R, std::min(g.H, g.Hout) / p.parts);  // a tile or more each
  const int64_t ntiles = (g.Hout + p.R - 1) / p.R;
  p.out = {p.R * g.Wout, ntiles, g.B * ntiles};
  return p;
}

namespace shifted_detail {

// A leading dimension of at least n elements that is 64 bytes past a multiple of
// 4 KiB, so the rows/channels of a GEMM operand do not all map to one L1 set.
template <typename T>
int64_t skewed_stride(int64_t n) {
  const int64_t page = 4096 / int64_t(sizeof(T)), skew = 64 / int64_t(sizeof(T));
  return (n + page - 1) / page * page + skew;
}

// Copies rows [r0, r1) of a source (C, rows_in, width), placed at row offset
// `top` and column offset `left` of a zero-padded grid with rows of L, into dst
// (channel c at dst + c * cstride). fill(c, row, dst) writes one source row.
template <typename T, typename Fill>
void pad_rows(int64_t C, int64_t rows_in, int64_t width, int64_t top, int64_t left, int64_t L,
              int64_t r0, int64_t r1, T* dst, int64_t cstride, Fill&& fill) {
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t r = r0; r < r1; ++r) {
      T* d = dst + c * cstride + (r - r0) * L;
      const int64_t src_row = r - top;
      if (src_row < 0 || src_row >= rows_in) {
        std::fill(d, d + L, T(0));
        continue;
      }
      std::fill(d, d + left, T(0));
      fill(c, src_row, d + left);
      std::fill(d + left + width, d + L, T(0));
    }
  }
}

// Weight of sample b as kH*kW contiguous (Cout, Cin) taps.
template <typename T>
void pack_taps(const ConvGeometry& g, const T* wb, T* taps) {
  const int64_t KK = g.kH * g.kW;
  for (int64_t co = 0; co < g.Cout; ++co)
    for (int64_t ci = 0; ci < g.Cin; ++ci)
      for (int64_t k = 0; k < KK; ++k) taps[(k * g.Cout + co) * g.Cin + ci] = wb[(co * g.Cin + ci) * KK + k];
}

// The inverse of pack_taps, for a weight gradient summed tap by tap: taps (KK, Cout, Cin) into
// wb (Cout, Cin, kH, kW); a tap with used[k] == 0 (never written) is zero. used null: every tap.
template <typename T>
void unpack_taps(const ConvGeometry& g, const T* taps, T* wb, const char* used = nullptr) {
  const int64_t KK = g.kH * g.kW;
  for (int64_t co = 0; co < g.Cout; ++co)
    for (int64_t ci = 0; ci < g.Cin; ++ci)
      for (int64_t k = 0; k < KK; ++k)
        wb[(co * g.Cin + ci) * KK + k] = !used || used[k] ? taps[(k * g.Cout + co) * g.Cin + ci] : T(0);
}

// Tap k's shift on a padded grid with rows of L: where the forward reads x for
// tap k, and where the input gradient reads dy for flipped tap kH*kW-1-k.
inline std::vector<int64_t> tap_offsets(const ConvGeometry& g, int64_t L) {
  std::vector<int64_t> offs(g.kH * g.kW);
  for (int64_t k = 0; k < g.kH * g.kW; ++k) offs[k] = k / g.kW * g.dH * L + k % g.kW * g.dW;
  return offs;
}

// Weights of one sample for the taps' sum: kH*kW contiguous (Cout, Cin) taps for
// the GEMMs, or direct_pack's blocks, transposed and flipped for the input gradient.
template <typename T>
class SampleTaps {
 public:
  SampleTaps(const ConvGeometry& g, const ShiftedPlan& p, bool for_dx)
      : g_(g), direct_(p.direct), for_dx_(for_dx),
        buf_(direct_ ? direct_size() : g.kH * g.kW * g.Cout * g.Cin) {}

  void pack(const T* wb) {
    if (!direct_) return pack_taps(g_, wb, buf_.data());
    if constexpr (std::is_same_v<T, float>) {
      const int64_t KK = g_.kH * g_.kW, Cin = g_.Cin;
      if (for_dx_)  // outputs are input channels: W_(KK-1-k)^T
        direct_pack(*direct_, g_.Cin, g_.Cout, KK, [&](int64_t ci, int64_t co, int64_t k) {
          return wb[(co * Cin + ci) * KK + KK - 1 - k];
        }, buf_.data());
      else
        direct_pack(*direct_, g_.Cout, g_.Cin, KK, [&](int64_t co, int64_t ci, int64_t k) {
          return wb[(co * Cin + ci) * KK + k];
        }, buf_.data());
    }
  }
  const T* tap(int64_t k) const { return buf_.data() + k * g_.Cout * g_.Cin; }  // GEMM layout
  const T* data() const { return buf_.data(); }

 private:
  int64_t direct_size() const {
    if constexpr (std::is_same_v<T, float>) {
      const int64_t KK = g_.kH * g_.kW;
      return for_dx_ ? direct_->packed_size(g_.Cin, g_.Cout, KK) : direct_->packed_size(g_.Cout, g_.Cin, KK);
    }
    return 0;
  }
  const ConvGeometry& g_;
  const DirectIsa* direct_;
  bool for_dx_;
  Workspace<T> buf_;
};

// out (Co rows ldo apart, n pixels) = sum over taps k of W_k @ in shifted by
// offs[k] (Ci rows istride apart), in registers; float only (p.direct).
template <typename T>
void direct_sum(const ShiftedPlan& p, int64_t Co, int64_t Ci, const std::vector<int64_t>& offs, const T* in,
                int64_t istride, const SampleTaps<T>& w, T* out, int64_t ldo, int64_t n) {
  if constexpr (std::is_same_v<T, float>)
    p.direct->taps(Co, Ci, int64_t(offs.size()), offs.data(), in, istride, w.data(), out, ldo, n);
}

// dw (Cout, Cin, kH*kW) += over pixels [0, n): dy (Cout rows dys apart) times x
// shifted by offs[k] (Cin rows xs apart), in registers; float only (p.direct).
template <typename T>
void direct_grad_sum(const ShiftedPlan& p, int64_t Cout, int64_t Cin, const std::vector<int64_t>& offs,
                     const T* x, int64_t xs, const T* dy, int64_t dys, T* dw, int64_t n) {
  if constexpr (std::is_same_v<T, float>)
    p.direct->grad(Cout, Cin, int64_t(offs.size()), offs.data(), x, xs, dy, dys, dw, n);
}

// Elements past a buffer that direct_sum may read (its last pixel block).
inline int64_t direct_slack(const ShiftedPlan& p) { return p.direct ? p.direct->pixels : 0; }

}  // namespace shifted_detail

// y[b] (Cout, Hout, Wout) = conv(x[b], weight[b]); epilogue(b, t, n0, n1) runs
// after tile t (output pixels [n0, n1) of sample b, plan.out) is written.
template <typename T, typename Epilogue>
void shifted_forward(const ConvGeometry& g, const ShiftedPlan& p, const T* x, const T* w, T* y,
                     Epilogue&& epilogue) {
  using namespace shifted_detail;
  const int64_t KK = g.kH * g.kW, L = p.L, N = g.N();
  const int64_t part_rows_max = ((g.Hout + p.R - 1) / p.R + p.parts - 1) / p.parts * p.R;
  at::parallel_for(0, g.B * p.parts, 1, [&](int64_t begin, int64_t end) {
    const int64_t slack = direct_slack(p);
    const int64_t cstride = skewed_stride<T>((part_rows_max + p.haloH) * L);
    const int64_t ldy = skewed_stride<T>(p.R * L);
    Workspace<T> xp(g.Cin * cstride + slack), yt(p.direct ? 0 : g.Cout * ldy);
    SampleTaps<T> taps(g, p, false);
    const std::vector<int64_t> offs = tap_offsets(g, L);
    int64_t packed = -1;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / p.parts, part = item % p.parts;
      int64_t r0, r1;
      p.part_rows(g.Hout, part, r0, r1);
      if (r0 >= r1) continue;
      const T* xb = x + b * g.Cin * g.H * g.W;
      pad_rows(g.Cin, g.H, g.W, g.pH, g.pW, L, r0, r1 + p.haloH, xp.data(), cstride,
               [&](int64_t c, int64_t row, T* d) {
                 std::memcpy(d, xb + (c * g.H + row) * g.W, g.W * sizeof(T));
               });
      if (packed != b) taps.pack(w + b * g.Cout * g.Cin * KK), packed = b;
      for (int64_t r = r0; r < r1; r += p.R) {
        const int64_t rows = std::min(p.R, r1 - r), nt = (rows - 1) * L + g.Wout;
        const T* xr = xp.data() + (r - r0) * L;
        T* yb = y + b * g.Cout * N;
        if (p.direct) {  // straight into y, a row at a time
          for (int64_t rr = 0; rr < rows; ++rr)
            direct_sum(p, g.Cout, g.Cin, offs, xr + rr * L, cstride, taps, yb + (r + rr) * g.Wout, N, g.Wout);
        } else {
          for (int64_t k = 0; k < KK; ++k) {
            // Column-major Y'^T (nt, Cout) += shift^T (nt, Cin) @ W_ij^T (Cin, Cout).
            gemm(false, false, nt, g.Cout, g.Cin, T(1), xr + offs[k], cstride, taps.tap(k), g.Cin,
                 T(k == 0 ? 0 : 1), yt.data(), ldy);
          }
          for (int64_t co = 0; co < g.Cout; ++co)
            for (int64_t rr = 0; rr < rows; ++rr)
              std::memcpy(yb + co * N + (r + rr) * g.Wout, yt.data() + co * ldy + rr * L,
                          g.Wout * sizeof(T));
        }
        epilogue(b, r / p.R, r * g.Wout, (r + rows) * g.Wout);
      }
    }
  });
}

// Gradients from dy, supplied by dy_span(b, c, n0, n1, dst): dy[b, c, n0:n1]
// (a span within one output row) written to dst. dx (B, Cin, H, W) and dw
// (B, Cout, Cin, kH, kW) may be null (not needed); neither needs zero-filling.
template <typename T, typename DySpan>
void shifted_backward(const ConvGeometry& g, const ShiftedPlan& p, const T* x, const T* w, T* dx,
                      T* dw, DySpan&& dy_span) {
  using namespace shifted_detail;
  const int64_t KK = g.kH * g.kW, L = p.L, WK = g.Cout * g.Cin * KK;
  const int64_t Hpd = g.H + p.haloH;  // rows of the padded dy
  const int64_t items = g.B * p.parts;
  const int64_t rows_max = (std::max(g.H, g.Hout) + p.R - 1) / p.R;
  const int64_t part_rows_max = (rows_max + p.parts - 1) / p.parts * p.R;
  // Partial weight gradients of split samples, summed after the parallel loop.
  std::vector<T> partial(dw && p.parts > 1 ? items * WK : 0);
  at::parallel_for(0, items, 1, [&](int64_t begin, int64_t end) {
    const int64_t dstride = skewed_stride<T>(Hpd * L);
    // The weight gradient pads x a chunk of rows at a time (a chunk re-copies
    // haloH rows of the one before): a smaller buffer where the halo is small.
    const int64_t chunk = std::min(part_rows_max, (std::max(p.R, 4 * p.haloH) + p.R - 1) / p.R * p.R);
    const int64_t xstride = skewed_stride<T>((chunk + p.haloH) * L);
    const int64_t slack = direct_slack(p);
    const int64_t ldt = skewed_stride<T>(p.R * L);
    // With direct taps, dy' (dy on the grid of x, pWd into the padded rows) starts on a
    // cache line: the weight gradient's vector loads of it then never split.
    const int64_t dshift = p.direct ? (16 - p.pWd % 16) % 16 : 0;
    Workspace<T> dyp_buf(g.Cout * dstride + slack + dshift), xp(dw ? g.Cin * xstride : 0);
    T* const dyp_data = dyp_buf.data() + dshift;
    Workspace<T> tile(dx && !p.direct ? g.Cin * ldt : 0), dwt(dw && !p.direct ? WK : 0);
    SampleTaps<T> taps(g, p, true);  // for the input gradient
    const std::vector<int64_t> offs = tap_offsets(g, L);
    int64_t packed = -1;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / p.parts, part = item % p.parts;
      int64_t h0 = 0, h1 = 0, r0 = 0, r1 = 0;  // dx rows, dy rows of this part
      if (dx) p.part_rows(g.H, part, h0, h1);
      if (dw) p.part_rows(g.Hout, part, r0, r1);
      if (h0 >= h1 && r0 >= r1) continue;
      // Padded dy rows [lo, hi) cover what both gradients read.
      int64_t lo = Hpd, hi = 0;
      if (h0 < h1) lo = std::min(lo, h0), hi = std::max(hi, h1 + p.haloH);
      if (r0 < r1) lo = std::min(lo, r0 + p.pHd), hi = std::max(hi, r1 + p.pHd);
      pad_rows(g.Cout, g.Hout, g.Wout, p.pHd, p.pWd, L, lo, hi, dyp_data, dstride,
               [&](int64_t c, int64_t row, T* d) {
                 dy_span(b, c, row * g.Wout, (row + 1) * g.Wout, d);
               });
      if (dx && packed != b) taps.pack(w + b * WK), packed = b;
      // Input gradient: tiles of dx rows, the flipped taps.
      T* dxb = dx ? dx + b * g.Cin * g.H * g.W : nullptr;
      for (int64_t h = h0; h < h1 && p.direct; ++h)  // straight into dx, a row at a time
        direct_sum(p, g.Cin, g.Cout, offs, dyp_data + (h - lo) * L, dstride, taps, dxb + h * g.W, g.H * g.W, g.W);
      for (int64_t h = h0; h < h1 && !p.direct; h += p.R) {
        const int64_t rows = std::min(p.R, h1 - h), nt = (rows - 1) * L + g.W;
        const T* dyr = dyp_data + (h - lo) * L;
        for (int64_t k = 0; k < KK; ++k) {
          // Column-major dX'^T (nt, Cin) += dyp shift^T (nt, Cout) @ W_(KK-1-k) (Cout, Cin).
          gemm(false, true, nt, g.Cin, g.Cout, T(1), dyr + offs[k], dstride, taps.tap(KK - 1 - k), g.Cin,
               T(k == 0 ? 0 : 1), tile.data(), ldt);
        }
        for (int64_t ci = 0; ci < g.Cin; ++ci)
          for (int64_t rr = 0; rr < rows; ++rr)
            std::memcpy(dxb + (ci * g.H + h + rr) * g.W, tile.data() + ci * ldt + rr * L,
                        g.W * sizeof(T));
      }
      if (r0 >= r1) continue;
      // Weight gradient: reductions over tiles of output rows.
      const T* xb = x + b * g.Cin * g.H * g.W;
      T* dst = p.parts > 1 ? partial.data() + item * WK : dw + b * WK;
      if (p.direct) std::fill(dst, dst + WK, T(0));  // accumulated in place, in the weight's layout
      for (int64_t c0 = r0; c0 < r1; c0 += chunk) {
        const int64_t c1 = std::min(r1, c0 + chunk);
        pad_rows(g.Cin, g.H, g.W, g.pH, g.pW, L, c0, c1 + p.haloH, xp.data(), xstride,
                 [&](int64_t c, int64_t row, T* d) {
                   std::memcpy(d, xb + (c * g.H + row) * g.W, g.W * sizeof(T));
                 });
        // Direct taps: the chunk's rows as one run of pixels (dy's padding columns are zeros).
        const int64_t step = p.direct ? c1 - c0 : p.R;
        for (int64_t r = c0; r < c1; r += step) {
          const int64_t rows = std::min(step, c1 - r), nt = (rows - 1) * L + g.Wout;
          const T* xr = xp.data() + (r - c0) * L;
          const T* dyr = dyp_data + (r + p.pHd - lo) * L + p.pWd;
          if (p.direct) direct_grad_sum(p, g.Cout, g.Cin, offs, xr, xstride, dyr, dstride, dst, nt);
          for (int64_t k = 0; k < KK && !p.direct; ++k) {
            // Column-major dW_ij^T (Cin, Cout) += shift (Cin, nt) @ dy' (nt, Cout).
            gemm(true, false, g.Cin, g.Cout, nt, T(1), xr + offs[k], xstride, dyr, dstride,
                 T(r == r0 ? 0 : 1), dwt.data() + k * g.Cout * g.Cin, g.Cin);
          }
        }
      }
      if (p.direct) continue;
      unpack_taps(g, dwt.data(), dst);
    }
  });
  if (dw && p.parts > 1) {
    sum_part_gradients(partial.data(), g.B, p.parts, WK, dw, [&](int64_t part) {
      int64_t r0, r1;
      p.part_rows(g.Hout, part, r0, r1);
      return r0 < r1;
    });
  }
}

}  // namespace dyconv::cpu
