// Strided depthwise per-sample convolution (groups == Cin, any channel multiplier M):
// each input plane x[b, c] is convolved with its own M filters into output
// planes c * M .. c * M + M - 1. There is nothing to reduce over channels, so
// no GEMM: per plane the input is copied once into a zero-padded buffer and
// every tap is a multiply-add of a shifted row onto an output row (the inner
// loop over output columns vectorises for stride 1). Any kernel size, stride
// and dilation.
//
// The geometry is the folded one (ConvGeometry::folded(): sample b * Cin + c
// with one input channel and M outputs). Planes run in parallel, each on one
// thread, its taps summed in a fixed order: deterministic.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>

#include "checks.h"
#include "cpu/workspace.h"

namespace dyconv::cpu {

// Whether g (unfolded) is depthwise and takes this path: strided layers only.
// At stride 1 the folded problem (one input channel per sample) runs faster on
// the direct-taps engine of cpu/conv.h, whose register blocking this kernel
// lacks (fwd+bwd, float32, 2 Zen 5 cores: CondConv's 672-channel k5 at 14x14,
// batch 64: 329 ms folded vs 408 ms here; at stride 2 the folded problem falls
// to im2col and this kernel is 1.6-2.1x faster; docs/grouped_idiom.md).
// groups == 1 with one input channel stays with the engines of cpu/conv.h.
inline bool depthwise_applies(const ConvGeometry& g) {
  return g.groups > 1 && g.groups == g.Cin && (g.sH > 1 || g.sW > 1);
}

namespace depthwise_detail {

struct Padded {
  int64_t Hp, Wp;  // rows and row length of the zero-padded plane
  explicit Padded(const ConvGeometry& f)
      : Hp(std::max(f.H + 2 * f.pH, (f.Hout - 1) * f.sH + f.dH * (f.kH - 1) + 1)),
        Wp(std::max(f.W + 2 * f.pW, (f.Wout - 1) * f.sW + f.dW * (f.kW - 1) + 1)) {}
  int64_t size() const { return Hp * Wp; }
};

// The plane src (H, W) into dst (Hp, Wp), zeros around it.
template <typename T>
void pad_plane(const ConvGeometry& f, const Padded& p, const T* src, T* dst) {
  std::fill(dst, dst + p.size(), T(0));
  for (int64_t h = 0; h < f.H; ++h)
    std::memcpy(dst + (h + f.pH) * p.Wp + f.pW, src + h * f.W, f.W * sizeof(T));
}

// out[ox] += v * in[ox * s] for ox < n.
template <typename T>
inline void axpy_row(T* out, const T* in, T v, int64_t n, int64_t s) {
  if (s == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] += v * in[i];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] += v * in[i * s];
  }
}

// out[ox * s] += v * in[ox] for ox < n.
template <typename T>
inline void scatter_row(T* out, const T* in, T v, int64_t n, int64_t s) {
  if (s == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] += v * in[i];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i * s] += v * in[i];
  }
}

}  // namespace depthwise_detail

// y (B*Cin, M, Hout, Wout) = depthwise conv of x (B*Cin, 1, H, W) with w (B*Cin, M, 1, kH, kW),
// plus bias (B*Cin, M) when not null. f is the folded geometry; x, w, y contiguous.
template <typename T>
void depthwise_forward(const ConvGeometry& f, const T* x, const T* w, const T* bias, T* y) {
  using namespace depthwise_detail;
  const Padded p(f);
  const int64_t M = f.Cout, N = f.N(), taps = f.kH * f.kW;
  at::parallel_for(0, f.B, 1, [&](int64_t begin, int64_t end) {
    Workspace<T> xp(p.size());
    for (int64_t plane = begin; plane < end; ++plane) {
      pad_plane(f, p, x + plane * f.H * f.W, xp.data());
      for (int64_t m = 0; m < M; ++m) {
        const T* wm = w + (plane * M + m) * taps;
        const T b0 = bias ? bias[plane * M + m] : T(0);
        T* ym = y + (plane * M + m) * N;
        for (int64_t oy = 0; oy < f.Hout; ++oy) {
          T* yr = ym + oy * f.Wout;
          std::fill(yr, yr + f.Wout, b0);
          for (int64_t kh = 0; kh < f.kH; ++kh) {
            const T* xr = xp.data() + (oy * f.sH + kh * f.dH) * p.Wp;
            for (int64_t kw = 0; kw < f.kW; ++kw)
              axpy_row(yr, xr + kw * f.dW, wm[kh * f.kW + kw], f.Wout, f.sW);
          }
        }
      }
    }
  });
}

// Gradients of depthwise_forward from dy (B*Cin, M, Hout, Wout): dx (B*Cin, 1, H, W) and
// dw (B*Cin, M, 1, kH, kW), either may be null; both are overwritten (no zero-fill needed).
template <typename T>
void depthwise_backward(const ConvGeometry& f, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  using namespace depthwise_detail;
  const Padded p(f);
  const int64_t M = f.Cout, N = f.N(), taps = f.kH * f.kW;
  at::parallel_for(0, f.B, 1, [&](int64_t begin, int64_t end) {
    Workspace<T> xp(dw ? p.size() : 0), dxp(dx ? p.size() : 0), acc(dw ? taps * f.Wout : 0);
    for (int64_t plane = begin; plane < end; ++plane) {
      if (dx) std::fill(dxp.data(), dxp.data() + p.size(), T(0));
      if (dw) pad_plane(f, p, x + plane * f.H * f.W, xp.data());
      for (int64_t m = 0; m < M; ++m) {
        const T* wm = w + (plane * M + m) * taps;
        const T* dym = dy + (plane * M + m) * N;
        if (dw) std::fill(acc.data(), acc.data() + taps * f.Wout, T(0));
        for (int64_t oy = 0; oy < f.Hout; ++oy) {
          const T* dyr = dym + oy * f.Wout;
          for (int64_t kh = 0; kh < f.kH; ++kh) {
            const int64_t row = (oy * f.sH + kh * f.dH) * p.Wp;
            for (int64_t kw = 0; kw < f.kW; ++kw) {
              const int64_t at = row + kw * f.dW, t = kh * f.kW + kw;
              if (dx) scatter_row(dxp.data() + at, dyr, wm[t], f.Wout, f.sW);
              if (dw) {
                // acc[t] += dy row * the input row under tap t (summed over columns below).
                T* a = acc.data() + t * f.Wout;
                const T* xr = xp.data() + at;
                if (f.sW == 1) {
                  for (int64_t i = 0; i < f.Wout; ++i) a[i] += dyr[i] * xr[i];
                } else {
                  for (int64_t i = 0; i < f.Wout; ++i) a[i] += dyr[i] * xr[i * f.sW];
                }
              }
            }
          }
        }
        if (dw) {
          for (int64_t t = 0; t < taps; ++t) {
            const T* a = acc.data() + t * f.Wout;
            T s = 0;
            for (int64_t i = 0; i < f.Wout; ++i) s += a[i];
            dw[(plane * M + m) * taps + t] = s;
          }
        }
      }
      if (dx) {
        T* dst = dx + plane * f.H * f.W;
        for (int64_t h = 0; h < f.H; ++h)
          std::memcpy(dst + h * f.W, dxp.data() + (h + f.pH) * p.Wp + f.pW, f.W * sizeof(T));
      }
    }
  });
}

}  // namespace dyconv::cpu
