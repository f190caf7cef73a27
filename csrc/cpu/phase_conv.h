// Strided per-sample convolution split into its stride phases ("sub-pixel"
// decomposition): one GEMM per kernel tap on shifted views of padded buffers, as
// in the shifted engine (shifted_conv.h), with no im2col and no col2im.
//
// Along one axis (stride s, padding p, dilation d), tap k reads input pixel
// i = o*s - p + k*d = (o + e_k)*s + r_k of output pixel o, with r_k = (k*d - p)
// mod s and e_k = floor((k*d - p) / s). With x_r[m] = x[m*s + r] (the phase r
// of x, M_r pixels):
//   forward      y[o]     = sum_k W_k x_{r_k}[o + e_k]       (taps of every phase)
//   input grad   dx_r[m]  = sum_{k: r_k = r} W_k^T dy[m - e_k] (dx[m*s + r]; zero
//                           where no tap has phase r, e.g. a kernel smaller than s)
//   weight grad  dW_k     = sum_o dy[o] x_{r_k}[o + e_k]^T
// Each is a stride-1 correlation: the phases of x are de-interleaved once into
// zero-padded buffers with rows of L, dy likewise (its own phase, shifted by
// e_k), and every tap is a plain strided matrix of them that BLAS reads in
// place. The input gradient is what a stride-s transposed convolution computes
// (dynamic_conv_transpose2d runs it), its output phases scattered into dx.
// 2-D: phases and offsets per axis; a tap (i, j) has phase (r_i, r_j).
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "checks.h"
#include "cpu/blas.h"
#include "cpu/conv_engine.h"
#include "cpu/part_sums.h"
#include "cpu/shifted_conv.h"
#include "cpu/workspace.h"

namespace dyconv::cpu {

// Any stride above 1 along either axis.
inline bool phase_conv_applies(const ConvGeometry& g) { return g.sH > 1 || g.sW > 1; }

// One axis: phase and offset of each tap, pixels of each phase of x.
struct PhaseAxis {
  int64_t s = 1, n = 0;          // stride, input pixels
  std::vector<int64_t> r, e;     // per tap
  int64_t emin = 0, emax = 0;    // over the taps
  int64_t M(int64_t ph) const { return ph < n ? (n - ph + s - 1) / s : 0; }  // pixels of phase ph
  int64_t Mmax() const { return M(0); }

  PhaseAxis() = default;
  PhaseAxis(int64_t stride, int64_t pad, int64_t dil, int64_t k, int64_t in) : s(stride), n(in), r(k), e(k) {
    for (int64_t t = 0; t < k; ++t) {
      const int64_t a = t * dil - pad;
      e[t] = a >= 0 ? a / s : -((-a + s - 1) / s);  // floor
      r[t] = a - e[t] * s;
    }
    emin = *std::min_element(e.begin(), e.end());
    emax = *std::max_element(e.begin(), e.end());
  }
};

struct PhasePlan {
  PhaseAxis ax, ay;  // x (columns) and y (rows) axes
  int64_t L;         // row stride of every padded buffer
  int64_t QL;        // columns left of dy's first column in its buffer (max(0, max e_x))
  int64_t R;         // rows per GEMM tile
  int64_t chunk;     // rows padded into the buffers at a time (a multiple of R): small buffers, reused
  int64_t parts;     // parts each sample is split into (1 unless the batch cannot fill the threads)
  TilePlan out;      // tiles of output pixels (R rows each), the unit of the forward epilogue

  int64_t phases() const { return ay.s * ax.s; }
  // Rows [r0, r1) of part `part` when `rows` rows are cut into tiles of R.
  void part_rows(int64_t rows, int64_t part, int64_t& r0, int64_t& r1) const {
    const int64_t ntiles = (rows + R - 1) / R;
    r0 = std::min(rows, part * ntiles / parts * R);
    r1 = std::min(rows, (part + 1) * ntiles / parts * R);
  }
};

template <typename T>
PhasePlan plan_phases(const ConvGeometry& g) {
  PhasePlan p{};
  p.ay = PhaseAxis(g.sH, g.pH, g.dH, g.kH, g.H);
  p.ax = PhaseAxis(g.sW, g.pW, g.dW, g.kW, g.W);
  p.QL = std::max<int64_t>(0, p.ax.emax);
  const int64_t spread = p.ax.emax - p.ax.emin;
  p.L = std::max({g.Wout + spread, p.ax.Mmax() - p.ax.emin + p.QL, g.Wout + p.QL, int64_t(1)});
  const int64_t budget = int64_t(512) * 1024 / int64_t(sizeof(T));
  const int64_t rows = std::max(g.Hout, p.ay.Mmax());
  p.R = std::clamp<int64_t>(budget / (p.L * (g.Cin + g.Cout)), 1, std::max<int64_t>(1, rows));
  const int64_t threads = at::get_num_threads();
  p.parts = 1;
  if (g.B % threads != 0 && g.B < 8 * threads) p.parts = threads / std::gcd(g.B, threads);
  p.parts = std::max<int64_t>(1, std::min(p.parts, std::min(g.Hout, std::max<int64_t>(1, p.ay.Mmax()))));
  if (p.parts > 1) p.R = std::max<int64_t>(1, std::min(p.R, std::min(g.Hout, p.ay.Mmax()) / p.parts));
  // A chunk re-pads the rows its taps reach past it (the rows' spread): at least 8 times that many.
  const int64_t spreadH = std::max(p.ay.emax - p.ay.emin, int64_t(0));
  p.chunk = (std::max(p.R, 8 * spreadH) + p.R - 1) / p.R * p.R;
  const int64_t ntiles = (g.Hout + p.R - 1) / p.R;
  p.out = {p.R * g.Wout, ntiles, g.B * ntiles};
  return p;
}

namespace phase_detail {

// Phase (py, px) of x[b] (Cin, H, W), rows m in [m0, m0 + rows) and columns
// m' = v + c0 for v in [0, L), zero outside x, into dst (channel c at dst + c * cstride).
template <typename T>
void fill_x_phase(const ConvGeometry& g, const PhasePlan& p, const T* xb, int64_t py, int64_t px, int64_t m0,
                  int64_t rows, int64_t c0, T* dst, int64_t cstride) {
  const int64_t L = p.L, Mh = p.ay.M(py), Mw = p.ax.M(px), sW = g.sW;
  const int64_t v0 = std::clamp<int64_t>(-c0, 0, L), v1 = std::clamp<int64_t>(Mw - c0, v0, L);
  for (int64_t c = 0; c < g.Cin; ++c) {
    for (int64_t l = 0; l < rows; ++l) {
      T* d = dst + c * cstride + l * L;
      const int64_t m = m0 + l;
      if (m < 0 || m >= Mh) {
        std::fill(d, d + L, T(0));
        continue;
      }
      const T* src = xb + (c * g.H + m * g.sH + py) * g.W + px;
      std::fill(d, d + v0, T(0));
      if (sW == 1) std::memcpy(d + v0, src + v0 + c0, (v1 - v0) * sizeof(T));
      else if (sW == 2) for (int64_t v = v0; v < v1; ++v) d[v] = src[(v + c0) * 2];  // a constant stride vectorizes
      else for (int64_t v = v0; v < v1; ++v) d[v] = src[(v + c0) * sW];
      std::fill(d + v1, d + L, T(0));
    }
  }
}

}  // namespace phase_detail

// y[b] (Cout, Hout, Wout) = conv(x[b], weight[b]); epilogue(b, t, n0, n1) runs
// after tile t (output pixels [n0, n1) of sample b, plan.out) is written.
template <typename T, typename Epilogue>
void phase_forward(const ConvGeometry& g, const PhasePlan& p, const T* x, const T* w, T* y, Epilogue&& epilogue) {
  using namespace shifted_detail;
  const int64_t KK = g.kH * g.kW, L = p.L, N = g.N(), P = p.phases();
  const int64_t spreadH = p.ay.emax - p.ay.emin;
  at::parallel_for(0, g.B * p.parts, 1, [&](int64_t begin, int64_t end) {
    const int64_t cstride = skewed_stride<T>((p.chunk + spreadH) * L);
    const int64_t ldy = skewed_stride<T>(p.R * L);
    Workspace<T> xp(P * g.Cin * cstride), yt(g.Cout * ldy), taps(KK * g.Cout * g.Cin);
    int64_t packed = -1;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / p.parts, part = item % p.parts;
      int64_t r0, r1;
      p.part_rows(g.Hout, part, r0, r1);
      if (r0 >= r1) continue;
      const T* xb = x + b * g.Cin * g.H * g.W;
      if (packed != b) pack_taps(g, w + b * g.Cout * g.Cin * KK, taps.data()), packed = b;
      T* yb = y + b * g.Cout * N;
      for (int64_t c0 = r0; c0 < r1; c0 += p.chunk) {
        const int64_t c1 = std::min(r1, c0 + p.chunk);
        // Phase buffer row l holds phase row c0 + emin + l; column v phase column v + emin.
        for (int64_t py = 0; py < g.sH; ++py)
          for (int64_t px = 0; px < g.sW; ++px)
            phase_detail::fill_x_phase(g, p, xb, py, px, c0 + p.ay.emin, c1 - c0 + spreadH, p.ax.emin,
                                       xp.data() + (py * g.sW + px) * g.Cin * cstride, cstride);
        for (int64_t r = c0; r < c1; r += p.R) {
          const int64_t rows = std::min(p.R, c1 - r), nt = (rows - 1) * L + g.Wout;
          bool first = true;
          for (int64_t k = 0; k < KK; ++k) {
            const int64_t ki = k / g.kW, kj = k % g.kW, py = p.ay.r[ki], px = p.ax.r[kj];
            if (p.ay.M(py) == 0 || p.ax.M(px) == 0) continue;  // an empty phase of x: no term
            const T* src = xp.data() + (py * g.sW + px) * g.Cin * cstride +
                           (r - c0 + p.ay.e[ki] - p.ay.emin) * L + (p.ax.e[kj] - p.ax.emin);
            // Column-major Y'^T (nt, Cout) += shift^T (nt, Cin) @ W_ij^T (Cin, Cout).
            gemm(false, false, nt, g.Cout, g.Cin, T(1), src, cstride, taps.data() + k * g.Cout * g.Cin, g.Cin,
                 T(first ? 0 : 1), yt.data(), ldy);
            first = false;
          }
          for (int64_t co = 0; co < g.Cout; ++co)
            for (int64_t rr = 0; rr < rows; ++rr) {
              T* dst = yb + co * N + (r + rr) * g.Wout;
              if (first) std::fill(dst, dst + g.Wout, T(0));
              else std::memcpy(dst, yt.data() + co * ldy + rr * L, g.Wout * sizeof(T));
            }
          epilogue(b, r / p.R, r * g.Wout, (r + rows) * g.Wout);
        }
      }
    }
  });
}

// Gradients from dy, supplied by dy_span(b, c, n0, n1, dst): dy[b, c, n0:n1]
// (one whole output row) written to dst. dx (B, Cin, H, W) and dw
// (B, Cout, Cin, kH, kW) may be null (not needed); neither needs zero-filling.
template <typename T, typename DySpan>
void phase_backward(const ConvGeometry& g, const PhasePlan& p, const T* x, const T* w, T* dx, T* dw,
                    DySpan&& dy_span) {
  using namespace shifted_detail;
  const int64_t KK = g.kH * g.kW, L = p.L, WK = g.Cout * g.Cin * KK, P = p.phases();
  const int64_t spreadH = p.ay.emax - p.ay.emin, Mh_max = p.ay.Mmax();
  const int64_t items = g.B * p.parts;
  std::vector<T> partial(dw && p.parts > 1 ? items * WK : 0);
  at::parallel_for(0, items, 1, [&](int64_t begin, int64_t end) {
    // dy rows of a chunk: the reach of a chunk of dx rows, or a chunk of its own rows (weight gradient).
    const int64_t dstride = skewed_stride<T>((p.chunk + spreadH) * L);
    const int64_t xstride = skewed_stride<T>((p.chunk + spreadH) * L);
    const int64_t ldt = skewed_stride<T>(p.R * L);
    Workspace<T> dyp(g.Cout * dstride), xp(dw ? P * g.Cin * xstride : 0);
    Workspace<T> tile(dx ? g.Cin * ldt : 0), dwt(dw ? WK : 0), taps(dx ? WK : 0);
    // dy rows [o0, o0 + rows) into the buffer: row l holds dy row o0 + l, column v dy column v - QL (zero
    // outside dy: the weight gradient's pixels past Wout then read zeros, wrapping into the next row's QL).
    const auto fill_dy = [&](int64_t b, int64_t o0, int64_t rows) {
      for (int64_t c = 0; c < g.Cout; ++c) {
        for (int64_t l = 0; l < rows; ++l) {
          T* d = dyp.data() + c * dstride + l * L;
          const int64_t o = o0 + l;
          std::fill(d, d + L, T(0));
          if (o >= 0 && o < g.Hout) dy_span(b, c, o * g.Wout, (o + 1) * g.Wout, d + p.QL);
        }
      }
    };
    int64_t packed = -1;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / p.parts, part = item % p.parts;
      // Input gradient: chunks of phase rows [h0, h1) of every phase of x; the taps of each phase.
      int64_t h0 = 0, h1 = 0;
      if (dx) p.part_rows(Mh_max, part, h0, h1);
      if (h0 < h1 && packed != b) pack_taps(g, w + b * WK, taps.data()), packed = b;
      T* dxb = dx ? dx + b * g.Cin * g.H * g.W : nullptr;
      for (int64_t c0 = h0; c0 < h1; c0 += p.chunk) {
        const int64_t c1 = std::min(h1, c0 + p.chunk), olo = c0 - p.ay.emax;
        fill_dy(b, olo, c1 - c0 + spreadH);
        for (int64_t py = 0; py < g.sH; ++py) {
          for (int64_t px = 0; px < g.sW; ++px) {
            const int64_t Mh = std::min(c1, p.ay.M(py)), Mw = p.ax.M(px);
            if (Mw == 0) continue;
            for (int64_t h = c0; h < Mh; h += p.R) {
              const int64_t rows = std::min(p.R, Mh - h), nt = (rows - 1) * L + Mw;
              bool first = true;
              for (int64_t k = 0; k < KK; ++k) {
                const int64_t ki = k / g.kW, kj = k % g.kW;
                if (p.ay.r[ki] != py || p.ax.r[kj] != px) continue;
                const T* src = dyp.data() + (h - p.ay.e[ki] - olo) * L + (p.QL - p.ax.e[kj]);
                // Column-major dX'^T (nt, Cin) += dy shift^T (nt, Cout) @ W_ij (Cout, Cin).
                gemm(false, true, nt, g.Cin, g.Cout, T(1), src, dstride, taps.data() + k * g.Cout * g.Cin, g.Cin,
                     T(first ? 0 : 1), tile.data(), ldt);
                first = false;
              }
              for (int64_t ci = 0; ci < g.Cin; ++ci)
                for (int64_t rr = 0; rr < rows; ++rr) {
                  T* dst = dxb + (ci * g.H + (h + rr) * g.sH + py) * g.W + px;
                  const T* src = tile.data() + ci * ldt + rr * L;
                  if (first) for (int64_t m = 0; m < Mw; ++m) dst[m * g.sW] = T(0);
                  else if (g.sW == 1) std::memcpy(dst, src, Mw * sizeof(T));
                  else for (int64_t m = 0; m < Mw; ++m) dst[m * g.sW] = src[m];
                }
            }
          }
        }
      }
      // Weight gradient: per chunk of dy rows, one reduction over the chunk's pixels per tap.
      int64_t r0 = 0, r1 = 0;
      if (dw) p.part_rows(g.Hout, part, r0, r1);
      if (r0 >= r1) continue;
      const T* xb = x + b * g.Cin * g.H * g.W;
      T* dst = p.parts > 1 ? partial.data() + item * WK : dw + b * WK;
      std::vector<char> used(KK, 0);
      for (int64_t c0 = r0; c0 < r1; c0 += p.chunk) {
        const int64_t c1 = std::min(r1, c0 + p.chunk), nt = (c1 - c0 - 1) * L + g.Wout;
        fill_dy(b, c0, c1 - c0);
        for (int64_t py = 0; py < g.sH; ++py)
          for (int64_t px = 0; px < g.sW; ++px)
            phase_detail::fill_x_phase(g, p, xb, py, px, c0 + p.ay.emin, c1 - c0 + spreadH, p.ax.emin,
                                       xp.data() + (py * g.sW + px) * g.Cin * xstride, xstride);
        const T* dyr = dyp.data() + p.QL;
        for (int64_t k = 0; k < KK; ++k) {
          const int64_t ki = k / g.kW, kj = k % g.kW, py = p.ay.r[ki], px = p.ax.r[kj];
          if (p.ay.M(py) == 0 || p.ax.M(px) == 0) continue;  // an empty phase of x: dW_ij = 0
          const T* src = xp.data() + (py * g.sW + px) * g.Cin * xstride + (p.ay.e[ki] - p.ay.emin) * L +
                         (p.ax.e[kj] - p.ax.emin);
          // Column-major dW_ij^T (Cin, Cout) += shift (Cin, nt) @ dy' (nt, Cout).
          gemm(true, false, g.Cin, g.Cout, nt, T(1), src, xstride, dyr, dstride, T(used[k] ? 1 : 0),
               dwt.data() + k * g.Cout * g.Cin, g.Cin);
          used[k] = 1;
        }
      }
      unpack_taps(g, dwt.data(), dst, used.data());
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
