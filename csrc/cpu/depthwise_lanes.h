// Depthwise per-sample convolution (groups == Cin, any channel multiplier M) on
// small maps, with one (sample, channel) plane per vector lane.
//
// At 4x4 or 8x8 a plane's rows are shorter than a vector: the engines of
// cpu/conv.h (the folded problem's direct taps) and the row kernel of
// cpu/depthwise_conv.h then compute mostly padding lanes and pay a set-up per
// plane (issue 29: depthwise 3x3 over 1152 channels at 4x4, batch 16, was 0.26x
// the grouped idiom, 77 % of its time in direct taps' 64-pixel blocks for
// 4-pixel rows). Here VW consecutive planes (the folded samples b * Cin + c) are
// transposed into one buffer with a pixel's VW planes side by side, so every
// tap of every pixel is one full-width vector multiply-add with no horizontal
// sum, for any stride, padding and dilation: the taps that fall inside the map
// are listed once per call (Axis) and the padding is never stored.
//
// Every output element is summed in a fixed order on one thread: deterministic.
// Vector widths: AVX-512 16 floats, AVX2 8, otherwise 4 (cpu/direct_taps.h's
// direct_isa() picks, DYCONV_CPU_ISA included); double 4 lanes, generic code.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "checks.h"
#include "cpu/direct_taps.h"
#include "cpu/workspace.h"

namespace dyconv::cpu {

// Largest map (input or output pixels per plane) that takes this kernel.
constexpr int64_t kDepthwiseLanesMaxPixels = 64;

// Whether g (unfolded) is depthwise with maps small enough for this kernel.
inline bool depthwise_lanes_applies(const ConvGeometry& g) {
  return g.groups > 1 && g.groups == g.Cin && std::max(g.H * g.W, g.Hout * g.Wout) <= kDepthwiseLanesMaxPixels;
}

namespace depthwise_lanes_detail {

// Index pairs in groups: group k holds entries [start[k], start[k + 1]) of (first, second).
struct Pairs {
  std::vector<int32_t> start, first, second;
};

// The taps of one dimension that land inside the map: the triples (output o, tap k, input i) with
// i = o * s - p + k * d in [0, n_in), grouped by output (tap, input), by input (tap, output) and
// by tap (output, input).
struct Axis {
  Pairs by_out, by_in, by_tap;

  Axis(int64_t n_in, int64_t n_out, int64_t kernel, int64_t s, int64_t p, int64_t d) {
    std::vector<std::array<int32_t, 3>> t;  // (o, k, i)
    for (int64_t o = 0; o < n_out; ++o)
      for (int64_t k = 0; k < kernel; ++k) {
        const int64_t i = o * s - p + k * d;
        if (i >= 0 && i < n_in) t.push_back({int32_t(o), int32_t(k), int32_t(i)});
      }
    by_out = group(t, 0, 1, 2, n_out);
    by_in = group(t, 2, 1, 0, n_in);
    by_tap = group(t, 1, 0, 2, kernel);
  }

 private:
  static Pairs group(const std::vector<std::array<int32_t, 3>>& t, int key, int a, int b, int64_t groups) {
    Pairs g;
    g.start.assign(groups + 1, 0);
    for (const auto& e : t) ++g.start[e[key] + 1];
    std::partial_sum(g.start.begin(), g.start.end(), g.start.begin());
    g.first.resize(t.size());
    g.second.resize(t.size());
    std::vector<int32_t> next(g.start.begin(), g.start.end() - 1);
    for (const auto& e : t) {
      const int32_t j = next[e[key]]++;
      g.first[j] = e[a];
      g.second[j] = e[b];
    }
    return g;
  }
};

struct Plan {
  Axis h, w;
  int64_t W, Wout, kW;
  explicit Plan(const ConvGeometry& f)
      : h(f.H, f.Hout, f.kH, f.sH, f.pH, f.dH), w(f.W, f.Wout, f.kW, f.sW, f.pW, f.dW),
        W(f.W), Wout(f.Wout), kW(f.kW) {}
};

// The one kernel on lane buffers (x (H * W, VW), y and dy (Hout * Wout, VW), weights and their gradient
// (kH * kW, VW)): out (rows.size x ncols, VW) with
//   out[i][j] = init[i][j] + sum over r in rows[i], c in cols[j] of a[rows.first[r]][cols.first[c]] *
//               b[rows.second[r]][cols.second[c]]
// (a and b rows lda and ldb vectors long; init null: 0). Its three uses (by_out, by_in, by_tap of Axis):
//   forward       y  = bias + sum w[kh][kw] * x[iy][ix]      over the taps of each output pixel;
//   input grad    dx = (dx) + sum w[kh][kw] * dy[oy][ox]     over the outputs each input pixel feeds;
//   weight grad   dw = sum dy[oy][ox] * x[iy][ix]            over the pixels of each tap.
// always_inline: compiled inside each ISA's entry point below.
template <typename T, int VW>
__attribute__((always_inline)) inline void sum_pairs(const Pairs& rows, const Pairs& cols, const T* a, int64_t lda,
                                                     const T* b, int64_t ldb, const T* init, int64_t init_step,
                                                     T* out) {
  typedef T V __attribute__((vector_size(VW * sizeof(T)), may_alias));
  const V* av = reinterpret_cast<const V*>(a);
  const V* bv = reinterpret_cast<const V*>(b);
  const V* iv = reinterpret_cast<const V*>(init);
  V* o = reinterpret_cast<V*>(out);
  const int64_t nrows = int64_t(rows.start.size()) - 1, ncols = int64_t(cols.start.size()) - 1;
  for (int64_t i = 0; i < nrows; ++i)
    for (int64_t j = 0; j < ncols; ++j) {
      V acc = iv ? iv[(i * ncols + j) * init_step] : V{};
      for (int32_t r = rows.start[i]; r < rows.start[i + 1]; ++r) {
        const V* ar = av + rows.first[r] * lda;
        const V* br = bv + rows.second[r] * ldb;
        for (int32_t c = cols.start[j]; c < cols.start[j + 1]; ++c) acc += ar[cols.first[c]] * br[cols.second[c]];
      }
      o[i * ncols + j] = acc;
    }
}

// One stage of the in-register transpose of VW vectors of VW lanes: swaps bit D of the row and lane
// indices (rows j and j + D, j without bit D, trade their lanes with and without bit D).
template <int VW, int D, typename V, int... P>
__attribute__((always_inline)) inline void transpose_stage(V* r, std::integer_sequence<int, P...>) {
  for (int j = 0; j < VW; ++j) {
    if (j & D) continue;
    const V a = r[j], b = r[j + D];
    r[j] = __builtin_shufflevector(a, b, ((P & D) ? VW + P - D : P)...);
    r[j + D] = __builtin_shufflevector(a, b, ((P & D) ? VW + P : P + D)...);
  }
}

// r[i][l] = r[l][i] for VW rows of VW lanes: log2(VW) stages of shuffles.
template <int VW, typename V>
__attribute__((always_inline)) inline void transpose(V* r) {
  static_assert(VW == 4 || VW == 8 || VW == 16, "lanes: 4, 8 or 16");
  constexpr auto lanes = std::make_integer_sequence<int, VW>{};
  if constexpr (VW == 16) transpose_stage<VW, 8>(r, lanes);
  if constexpr (VW >= 8) transpose_stage<VW, 4>(r, lanes);
  transpose_stage<VW, 2>(r, lanes);
  transpose_stage<VW, 1>(r, lanes);
}

// dst (n, VW) = nl planes of n elements, plane_stride apart in src, side by side; lanes past nl zero.
template <typename T, int VW>
__attribute__((always_inline)) inline void to_lanes(const T* src, int64_t plane_stride, int64_t n, int64_t nl,
                                                    T* dst) {
  typedef T V __attribute__((vector_size(VW * sizeof(T)), may_alias));
  typedef T U __attribute__((vector_size(VW * sizeof(T)), aligned(sizeof(T)), may_alias));  // unaligned
  int64_t i0 = 0;
  for (; nl == VW && i0 + VW <= n; i0 += VW) {  // whole tiles in registers
    V r[VW];
    for (int l = 0; l < VW; ++l) r[l] = *reinterpret_cast<const U*>(src + l * plane_stride + i0);
    transpose<VW>(r);
    for (int i = 0; i < VW; ++i) *reinterpret_cast<V*>(dst + (i0 + i) * VW) = r[i];
  }
  for (int64_t i = i0; i < n; ++i) {
    T* d = dst + i * VW;
    for (int64_t l = 0; l < nl; ++l) d[l] = src[l * plane_stride + i];
    for (int64_t l = nl; l < VW; ++l) d[l] = T(0);
  }
}

// The inverse of to_lanes for the first nl lanes.
template <typename T, int VW>
__attribute__((always_inline)) inline void from_lanes(const T* src, int64_t n, int64_t nl, T* dst,
                                                      int64_t plane_stride) {
  typedef T V __attribute__((vector_size(VW * sizeof(T)), may_alias));
  typedef T U __attribute__((vector_size(VW * sizeof(T)), aligned(sizeof(T)), may_alias));  // unaligned
  int64_t i0 = 0;
  for (; nl == VW && i0 + VW <= n; i0 += VW) {
    V r[VW];
    for (int i = 0; i < VW; ++i) r[i] = *reinterpret_cast<const V*>(src + (i0 + i) * VW);
    transpose<VW>(r);
    for (int l = 0; l < VW; ++l) *reinterpret_cast<U*>(dst + l * plane_stride + i0) = r[l];
  }
  for (int64_t l = 0; l < nl; ++l)
    for (int64_t i = i0; i < n; ++i) dst[l * plane_stride + i] = src[i * VW + l];
}

template <typename T>
struct Kernels {
  int vw;  // lanes
  void (*sum_pairs)(const Pairs&, const Pairs&, const T*, int64_t, const T*, int64_t, const T*, int64_t, T*);
  void (*to_lanes)(const T*, int64_t, int64_t, int64_t, T*);
  void (*from_lanes)(const T*, int64_t, int64_t, T*, int64_t);
};

#define DYCONV_LANES_ENTRIES(T, VW, suffix, attr)                                                                   \
  attr inline void sum_pairs_##suffix(const Pairs& rows, const Pairs& cols, const T* a, int64_t lda, const T* b,  \
                                      int64_t ldb, const T* init, int64_t init_step, T* out) {                     \
    sum_pairs<T, VW>(rows, cols, a, lda, b, ldb, init, init_step, out);                                            \
  }                                                                                                                \
  attr inline void to_lanes_##suffix(const T* src, int64_t ps, int64_t n, int64_t nl, T* dst) {                    \
    to_lanes<T, VW>(src, ps, n, nl, dst);                                                                          \
  }                                                                                                                \
  attr inline void from_lanes_##suffix(const T* src, int64_t n, int64_t nl, T* dst, int64_t ps) {                  \
    from_lanes<T, VW>(src, n, nl, dst, ps);                                                                        \
  }
#ifdef DYCONV_DIRECT_X86
DYCONV_LANES_ENTRIES(float, 16, avx512, __attribute__((target("arch=x86-64-v4"))))
DYCONV_LANES_ENTRIES(float, 8, avx2, __attribute__((target("arch=x86-64-v3,tune=haswell"))))
#endif
DYCONV_LANES_ENTRIES(float, 4, float_baseline, )
DYCONV_LANES_ENTRIES(double, 4, double_generic, )
#undef DYCONV_LANES_ENTRIES
#define DYCONV_LANES_KERNELS(VW, suffix) {VW, sum_pairs_##suffix, to_lanes_##suffix, from_lanes_##suffix}

template <typename T>
Kernels<T> kernels() {
  if constexpr (std::is_same_v<T, float>) {
#ifdef DYCONV_DIRECT_X86
    const std::string_view isa = direct_isa().name;
    if (isa == "avx512") return DYCONV_LANES_KERNELS(16, avx512);
    if (isa == "avx2") return DYCONV_LANES_KERNELS(8, avx2);
#endif
    return DYCONV_LANES_KERNELS(4, float_baseline);
  } else {
    return DYCONV_LANES_KERNELS(4, double_generic);
  }
}
#undef DYCONV_LANES_KERNELS

}  // namespace depthwise_lanes_detail

// y (B*Cin, M, Hout, Wout) = depthwise conv of x (B*Cin, 1, H, W) with w (B*Cin, M, 1, kH, kW),
// plus bias (B*Cin, M) when not null. f is the folded geometry; x, w, y contiguous.
template <typename T>
void depthwise_lanes_forward(const ConvGeometry& f, const T* x, const T* w, const T* bias, T* y) {
  using namespace depthwise_lanes_detail;
  const Plan p(f);
  const Kernels<T> k = kernels<T>();
  const int64_t vw = k.vw, M = f.Cout, HW = f.H * f.W, N = f.N(), taps = f.kH * f.kW;
  at::parallel_for(0, (f.B + vw - 1) / vw, 1, [&](int64_t begin, int64_t end) {
    Workspace<T> xl(HW * vw), yl(N * vw), wl(taps * vw), bl(vw);
    std::fill(bl.data(), bl.data() + vw, T(0));
    for (int64_t block = begin; block < end; ++block) {
      const int64_t p0 = block * vw, nl = std::min(vw, f.B - p0);
      k.to_lanes(x + p0 * HW, HW, HW, nl, xl.data());
      for (int64_t m = 0; m < M; ++m) {
        k.to_lanes(w + (p0 * M + m) * taps, M * taps, taps, nl, wl.data());
        if (bias) k.to_lanes(bias + p0 * M + m, M, 1, nl, bl.data());
        k.sum_pairs(p.h.by_out, p.w.by_out, wl.data(), p.kW, xl.data(), p.W, bl.data(), 0, yl.data());
        k.from_lanes(yl.data(), N, nl, y + (p0 * M + m) * N, M * N);
      }
    }
  });
}

// Gradients of depthwise_lanes_forward from dy (B*Cin, M, Hout, Wout): dx (B*Cin, 1, H, W) and
// dw (B*Cin, M, 1, kH, kW), either may be null (x is only read for dw); both are overwritten.
template <typename T>
void depthwise_lanes_backward(const ConvGeometry& f, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  using namespace depthwise_lanes_detail;
  const Plan p(f);
  const Kernels<T> k = kernels<T>();
  const int64_t vw = k.vw, M = f.Cout, HW = f.H * f.W, N = f.N(), taps = f.kH * f.kW;
  at::parallel_for(0, (f.B + vw - 1) / vw, 1, [&](int64_t begin, int64_t end) {
    Workspace<T> xl(dw ? HW * vw : 0), dyl(N * vw), wl(dx ? taps * vw : 0), dxl(dx ? HW * vw : 0),
        dwl(dw ? taps * vw : 0);
    for (int64_t block = begin; block < end; ++block) {
      const int64_t p0 = block * vw, nl = std::min(vw, f.B - p0);
      if (dw) k.to_lanes(x + p0 * HW, HW, HW, nl, xl.data());
      for (int64_t m = 0; m < M; ++m) {
        k.to_lanes(dy + (p0 * M + m) * N, M * N, N, nl, dyl.data());
        if (dx) {
          k.to_lanes(w + (p0 * M + m) * taps, M * taps, taps, nl, wl.data());
          k.sum_pairs(p.h.by_in, p.w.by_in, wl.data(), p.kW, dyl.data(), p.Wout, m > 0 ? dxl.data() : nullptr, 1,
                      dxl.data());
        }
        if (dw) {
          k.sum_pairs(p.h.by_tap, p.w.by_tap, dyl.data(), p.Wout, xl.data(), p.W, nullptr, 0, dwl.data());
          k.from_lanes(dwl.data(), taps, nl, dw + (p0 * M + m) * taps, M * taps);
        }
      }
      if (dx) k.from_lanes(dxl.data(), HW, nl, dx + p0 * HW, HW);
    }
  });
}

}  // namespace dyconv::cpu
