// im2col / col2im on a tile of output pixels of one sample.
//
// A tile is the range [n0, n1) of flattened output pixels n = oh * Wout + ow.
// cols is (K, n1 - n0) row-major with K = Cin * kH * kW ordered (ci, i, j),
// the layout of a weight row weight[b, co] flattened.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "checks.h"

namespace dyconv::cpu {

// Calls f(oh, ow0, ow1, dst_offset) for each output-row segment of the tile.
template <typename F>
inline void for_each_row_segment(const ConvGeometry& g, int64_t n0, int64_t n1, F&& f) {
  int64_t n = n0;
  while (n < n1) {
    const int64_t oh = n / g.Wout, ow0 = n % g.Wout;
    const int64_t ow1 = std::min(g.Wout, ow0 + (n1 - n));
    f(oh, ow0, ow1, n - n0);
    n += ow1 - ow0;
  }
}

// Output columns [lo, hi) whose tap at input column offset `off` lands inside [0, W).
inline void valid_columns(const ConvGeometry& g, int64_t off, int64_t ow0, int64_t ow1,
                          int64_t& lo, int64_t& hi) {
  // 0 <= ow * sW + off < W
  lo = off >= 0 ? 0 : (-off + g.sW - 1) / g.sW;
  hi = (g.W - 1 - off) >= 0 ? (g.W - 1 - off) / g.sW + 1 : 0;
  lo = std::clamp(lo, ow0, ow1);
  hi = std::clamp(hi, lo, ow1);
}

template <typename T>
void im2col_tile(const ConvGeometry& g, const T* x, int64_t n0, int64_t n1, T* cols) {
  const int64_t nt = n1 - n0;
  for (int64_t ci = 0; ci < g.Cin; ++ci) {
    const T* xc = x + ci * g.H * g.W;
    for (int64_t i = 0; i < g.kH; ++i) {
      for (int64_t j = 0; j < g.kW; ++j) {
        T* row = cols + ((ci * g.kH + i) * g.kW + j) * nt;
        const int64_t off = j * g.dW - g.pW;
        for_each_row_segment(g, n0, n1, [&](int64_t oh, int64_t ow0, int64_t ow1, int64_t d) {
          T* dst = row + d - ow0;  // dst[ow] for ow in [ow0, ow1)
          const int64_t ih = oh * g.sH - g.pH + i * g.dH;
          if (ih < 0 || ih >= g.H) {
            std::fill(dst + ow0, dst + ow1, T(0));
            return;
          }
          int64_t lo, hi;
          valid_columns(g, off, ow0, ow1, lo, hi);
          const T* src = xc + ih * g.W + off;
          std::fill(dst + ow0, dst + lo, T(0));
          if (g.sW == 1) {
            std::memcpy(dst + lo, src + lo, (hi - lo) * sizeof(T));
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.sW];
          }
          std::fill(dst + hi, dst + ow1, T(0));
        });
      }
    }
  }
}

// The adjoint of im2col_tile: dx += scatter(cols).
template <typename T>
void col2im_tile(const ConvGeometry& g, const T* cols, int64_t n0, int64_t n1, T* dx) {
  const int64_t nt = n1 - n0;
  for (int64_t ci = 0; ci < g.Cin; ++ci) {
    T* dxc = dx + ci * g.H * g.W;
    for (int64_t i = 0; i < g.kH; ++i) {
      for (int64_t j = 0; j < g.kW; ++j) {
        const T* row = cols + ((ci * g.kH + i) * g.kW + j) * nt;
        const int64_t off = j * g.dW - g.pW;
        for_each_row_segment(g, n0, n1, [&](int64_t oh, int64_t ow0, int64_t ow1, int64_t d) {
          const int64_t ih = oh * g.sH - g.pH + i * g.dH;
          if (ih < 0 || ih >= g.H) return;
          int64_t lo, hi;
          valid_columns(g, off, ow0, ow1, lo, hi);
          const T* src = row + d - ow0;
          T* dst = dxc + ih * g.W + off;
          if (g.sW == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] += src[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.sW] += src[ow];
          }
        });
      }
    }
  }
}

}  // namespace dyconv::cpu
