// The per-sample kernels of the bfloat16 AMX path (cpu/amx_bf16_conv.h has the layout and where it
// applies): the packings, oneDNN's brgemm on them (at::native::cpublas::brgemm, bf16 x bf16 -> f32,
// exported by libtorch_cpu) and the stores, for one (folded) sample at a time. The convolution ops
// (cpu/amx_bf16_conv.h) and the fused op (cpu/amx_bf16_norm_act.h) run them per sample.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#if __has_include(<ATen/native/CPUBlas.h>)
#include <ATen/native/CPUBlas.h>
#endif

#include "checks.h"
#include "cpu/workspace.h"

#if defined(__x86_64__) && defined(CPUBLAS_BRGEMM_BF16BF16F32)
#define DYCONV_AMX_BF16 1
#endif

#if defined(DYCONV_AMX_BF16)
namespace dyconv::cpu::amx_detail {

using u16 = uint16_t;
// The AMX path runs only on AVX-512 CPUs: its loops are compiled for them.
#define DYCONV_AMX_V4 __attribute__((target("arch=x86-64-v4")))

// One (folded) sample of a 4-D tensor: C channels of H x W, strides in elements.
struct Plane {
  u16* p;
  int64_t C, H, W, sc, sh, sw;
};

// Folded sample s = (b, group) of t (B, groups * C, H, W), any strides.
inline Plane plane_of(const at::Tensor& t, int64_t groups, int64_t s) {
  const int64_t C = t.size(1) / groups;
  u16* base = static_cast<u16*>(const_cast<void*>(t.const_data_ptr()));
  return {base + (s / groups) * t.stride(0) + (s % groups) * C * t.stride(1), C, t.size(2), t.size(3),
          t.stride(1), t.stride(2), t.stride(3)};
}

// The grid a sample is packed onto: H x W padded by (pT, pL) on every side, row stride Wp; the
// correlation with a kH x kW kernel of dilation (dH, dW) has Ho x Wo outputs at grid positions
// oy * Wp + ox. P: the length of a packed row, with room for the last tap's reach past the grid
// and for an even number of grid positions.
struct Grid {
  int64_t pT, pL, Hp, Wp, kH, kW, dH, dW, Ho, Wo, P;
  Grid(int64_t H, int64_t W, int64_t pT_, int64_t pL_, int64_t kH_, int64_t kW_, int64_t dH_, int64_t dW_)
      : pT(pT_), pL(pL_), Hp(H + 2 * pT_), Wp(W + 2 * pL_), kH(kH_), kW(kW_), dH(dH_), dW(dW_),
        Ho(Hp - dH_ * (kH_ - 1)), Wo(Wp - dW_ * (kW_ - 1)) {
    P = (Hp * Wp + (kW - 1) * dW + 3) / 2 * 2;
  }
  int64_t tap_offset(int64_t t) const { return (t / kW) * dH * Wp + (t % kW) * dW; }
  int64_t outputs() const { return Ho * Wp; }               // grid positions computed
  int64_t pixels() const { return (Ho * Wp + 1) / 2 * 2; }  // the weight gradient's even reduction length
};

// float -> bfloat16 bits, rounding to nearest even, NaN kept (c10::BFloat16's rounding).
DYCONV_AMX_V4 inline u16 to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (f != f) return 0x7fc0;
  return u16((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// x onto the grid with its channel pairs interleaved: dst[(c / 2) * 2P + 2q + c % 2] for grid
// position q; zero elsewhere (padding, an odd channel count's last pair).
DYCONV_AMX_V4 inline void pack_channel_pairs(const Plane& x, const Grid& gr, u16* dst) {
  const int64_t pairs = (x.C + 1) / 2;
  std::memset(dst, 0, pairs * gr.P * 2 * sizeof(u16));
  uint32_t* d32 = reinterpret_cast<uint32_t*>(dst);
  for (int64_t c2 = 0; c2 < pairs; ++c2) {
    const u16* s0 = x.p + 2 * c2 * x.sc;
    const bool odd = 2 * c2 + 1 == x.C;
    for (int64_t i = 0; i < x.H; ++i) {
      uint32_t* d = d32 + c2 * gr.P + (i + gr.pT) * gr.Wp + gr.pL;
      const u16* r0 = s0 + i * x.sh;
      if (odd) {
        for (int64_t j = 0; j < x.W; ++j) d[j] = r0[j * x.sw];
      } else if (x.sw == 1) {
        const u16* r1 = r0 + x.sc;
        for (int64_t j = 0; j < x.W; ++j) d[j] = uint32_t(r0[j]) | (uint32_t(r1[j]) << 16);
      } else {
        const u16* r1 = r0 + x.sc;
        for (int64_t j = 0; j < x.W; ++j) d[j] = uint32_t(r0[j * x.sw]) | (uint32_t(r1[j * x.sw]) << 16);
      }
    }
  }
}

// dy (C, Ho, Wo) as rows on the output grid: dst[c * pixels + oy * Wp + ox]; zero in the dropped
// columns and past Ho * Wp.
DYCONV_AMX_V4 inline void pack_grid_rows(const Plane& dy, const Grid& gr, u16* dst) {
  const int64_t n = gr.pixels();
  for (int64_t c = 0; c < dy.C; ++c) {
    u16* d = dst + c * n;
    for (int64_t oy = 0; oy < dy.H; ++oy) {
      const u16* r = dy.p + c * dy.sc + oy * dy.sh;
      u16* row = d + oy * gr.Wp;
      for (int64_t ox = 0; ox < dy.W; ++ox) row[ox] = r[ox * dy.sw];
      std::memset(row + dy.W, 0, (gr.Wp - dy.W) * sizeof(u16));
    }
    std::memset(d + dy.H * gr.Wp, 0, (n - dy.H * gr.Wp) * sizeof(u16));
  }
}

// x on the grid, transposed into pixel pairs that start at parity `par` (brgemm's VNNI B over (pixels,
// C)): dst[(j * C + c) * 2 + k] = grid(c, 2j + par + k) for j < P / 2; the grid is zero outside x.
DYCONV_AMX_V4 inline void pack_pixel_pairs(const Plane& x, const Grid& gr, int64_t par, u16* dst) {
  std::memset(dst, 0, gr.P * x.C * sizeof(u16));
  constexpr int64_t kBlock = 16;  // channels per pass: 16 read streams where x is NCHW
  for (int64_t i = 0; i < x.H; ++i)
    for (int64_t c0 = 0; c0 < x.C; c0 += kBlock) {
      const int64_t c1 = std::min(x.C, c0 + kBlock);
      for (int64_t j = 0; j < x.W; ++j) {
        const int64_t q = (i + gr.pT) * gr.Wp + j + gr.pL - par;
        if (q < 0) continue;  // grid position 0 is in no pair of the odd packing
        u16* d = dst + (q / 2) * x.C * 2 + q % 2;
        const u16* src = x.p + i * x.sh + j * x.sw;
        for (int64_t c = c0; c < c1; ++c) d[2 * c] = src[c * x.sc];
      }
    }
}

// The taps as brgemm's A operands, (taps, M, K2) with K2 = K rounded up to even, zero in the extra
// column. Forward: A_t[co][ci] = w[co][ci][t]; input gradient (`flip_transpose`): A_t[ci][co] =
// w[co][ci][T - 1 - t], transposed in blocks that stay in L1. w: one folded sample's (Cout, Cin, kH,
// kW), contiguous.
DYCONV_AMX_V4 inline void pack_taps(const u16* w, int64_t Cout, int64_t Cin, int64_t T, bool flip_transpose,
                                    u16* dst) {
  const int64_t M = flip_transpose ? Cin : Cout, K = flip_transpose ? Cout : Cin, K2 = (K + 1) / 2 * 2;
  if (K2 != K)
    for (int64_t r = 0; r < T * M; ++r) dst[r * K2 + K] = 0;
  if (!flip_transpose) {
    for (int64_t co = 0; co < Cout; ++co)
      for (int64_t ci = 0; ci < Cin; ++ci)
        for (int64_t t = 0; t < T; ++t) dst[(t * M + co) * K2 + ci] = w[(co * Cin + ci) * T + t];
    return;
  }
  constexpr int64_t kBlock = 32;  // 32 x 32 (co, ci) per pass: T * 32 rows of 64 bytes written
  for (int64_t co0 = 0; co0 < Cout; co0 += kBlock)
    for (int64_t ci0 = 0; ci0 < Cin; ci0 += kBlock)
      for (int64_t co = co0; co < std::min(Cout, co0 + kBlock); ++co)
        for (int64_t ci = ci0; ci < std::min(Cin, ci0 + kBlock); ++ci) {
          const u16* src = w + (co * Cin + ci) * T;
          for (int64_t t = 0; t < T; ++t) dst[((T - 1 - t) * M + ci) * K2 + co] = src[t];
        }
}

// The weight gradient of taps [t0, t0 + n) from their float32 sums C (n, Cout, Cin), rounded into
// dw (Cout, Cin, T).
DYCONV_AMX_V4 inline void store_weight_grad(const float* C, int64_t Cout, int64_t Cin, int64_t T, int64_t t0,
                                            int64_t n, u16* dw) {
  const int64_t plane = Cout * Cin;
  for (int64_t i = 0; i < plane; ++i)
    for (int64_t t = 0; t < n; ++t) dw[i * T + t0 + t] = to_bf16(C[t * plane + i]);
}

// f(oy, a, e) for each output row oy with outputs [a, e) among the grid positions [n0, n0 + n): the
// block's columns past Wo on each row are the dropped ones.
template <typename F>
void for_each_output_run(const Grid& gr, int64_t n0, int64_t n, F&& f) {
  for (int64_t oy = n0 / gr.Wp; oy * gr.Wp < n0 + n; ++oy) {
    const int64_t a = std::max<int64_t>(0, n0 - oy * gr.Wp), e = std::min(gr.Wo, n0 + n - oy * gr.Wp);
    if (a < e) f(oy, a, e);
  }
}

// n floats src[i] + add, rounded into dst[i * stride].
DYCONV_AMX_V4 inline void round_run(const float* src, float add, int64_t n, u16* dst, int64_t stride) {
  if (stride == 1)
    for (int64_t i = 0; i < n; ++i) dst[i] = to_bf16(src[i] + add);
  else
    for (int64_t i = 0; i < n; ++i) dst[i * stride] = to_bf16(src[i] + add);
}

// Rows [0, M) of the grid positions [n0, n0 + n) in C (row stride ldc) that are outputs, plus
// bias[m] (or nothing), rounded into out (M, Ho, Wo). (The loops are in round_run: a lambda does not
// inherit its function's target attribute, and to_bf16 would not be inlined in it.)
inline void store_outputs(const float* C, int64_t ldc, int64_t n0, int64_t n, const Grid& gr, const u16* bias,
                          const Plane& out) {
  for_each_output_run(gr, n0, n, [&](int64_t oy, int64_t a, int64_t e) {
    for (int64_t m = 0; m < out.C; ++m) {
      float add = 0.f;
      if (bias) {
        const uint32_t u = uint32_t(bias[m]) << 16;
        std::memcpy(&add, &u, 4);
      }
      round_run(C + m * ldc + oy * gr.Wp - n0 + a, add, e - a, out.p + m * out.sc + oy * out.sh + a * out.sw, out.sw);
    }
  });
}

// Grid positions per brgemm call: a block of the output (M x kColumns float32) that stays in L1/L2.
constexpr int64_t kColumns = 512;

// sum over taps A_t (M, K2) @ shift_t(packed), packed by pack_channel_pairs, one block of grid
// positions at a time: store(C, n0, n) gets rows [0, M) of positions [n0, n0 + n) in C (row stride
// kColumns).
template <typename Store>
void correlate(const Grid& gr, int64_t M, int64_t K2, const u16* A, const u16* packed, float* C, Store&& store) {
  using at::native::cpublas::brgemm;
  const auto* a = reinterpret_cast<const at::BFloat16*>(A);
  const auto* b = reinterpret_cast<const at::BFloat16*>(packed);
  const int64_t T = gr.kH * gr.kW;
  for (int64_t n0 = 0; n0 < gr.outputs(); n0 += kColumns) {
    const int64_t n = std::min(kColumns, gr.outputs() - n0);
    for (int64_t t = 0; t < T; ++t)
      brgemm(M, n, K2, K2, gr.P, kColumns, t > 0, a + t * M * K2, b + 2 * (n0 + gr.tap_offset(t)), C, true);
    store(C, n0, n);
  }
}

// One folded sample's convolution f (stride 1, padding within the kernel's reach) on AMX: the
// forward, input gradient and weight gradient, each with the workspace (16-bit values) it needs.
struct AmxSample {
  ConvGeometry f;
  Grid x_grid, dy_grid;  // x padded for the forward and the weight gradient; dy for the input gradient
  int64_t T, Cin2, Cout2;  // taps; channel counts rounded up to even (brgemm's VNNI pairs)
  bool odd_taps;           // a tap shifted by an odd number of x_grid positions

  explicit AmxSample(const ConvGeometry& folded)
      : f(folded),
        x_grid(f.H, f.W, f.pH, f.pW, f.kH, f.kW, f.dH, f.dW),
        dy_grid(f.Hout, f.Wout, (f.kH - 1) * f.dH - f.pH, (f.kW - 1) * f.dW - f.pW, f.kH, f.kW, f.dH, f.dW),
        T(f.kH * f.kW), Cin2((f.Cin + 1) / 2 * 2), Cout2((f.Cout + 1) / 2 * 2), odd_taps(false) {
    for (int64_t t = 0; t < T; ++t) odd_taps = odd_taps || (x_grid.tap_offset(t) & 1);
  }

  // A 1x1 sample's weight (Cout, Cin) is already the forward's A operand where Cin is even.
  bool weight_in_place() const { return T == 1 && Cin2 == f.Cin; }
  // Floats of a block of sums, as 16-bit values.
  static int64_t sums(int64_t rows) { return 2 * rows * kColumns; }

  int64_t forward_workspace() const { return correlation_workspace(false); }

  // store(C, n0, n): rows [0, Cout) of x_grid's positions [n0, n0 + n) in C (row stride kColumns),
  // float32 sums without bias. w: the sample's (Cout, Cin, kH, kW), contiguous.
  template <typename Store>
  void forward(const Plane& x, const u16* w, u16* ws, Store&& store) const {
    run_correlation(x, w, false, ws, store);
  }

  int64_t input_grad_workspace() const { return correlation_workspace(true); }

  // dx (Cin, H, W) from dy (Cout, Hout, Wout), plus bias[c] where not null (the transposed conv).
  void input_grad(const Plane& dy, const u16* w, const u16* bias, u16* ws, const Plane& dx) const {
    run_correlation(dy, w, true, ws, [&](const float* C, int64_t n0, int64_t n) {
      store_outputs(C, kColumns, n0, n, dy_grid, bias, dx);
    });
  }

  // Reduction blocks of kPixels: a block of the packed X^T (kPixels x Cin) stays in L2 for all taps, whose
  // float32 sums are kept side by side unless they would not fit in L2 beside it; then tap after tap.
  static constexpr int64_t kPixels = 512, kSums = int64_t(1) << 20;
  bool taps_outer() const { return T * f.Cout * f.Cin * int64_t(sizeof(float)) > kSums; }
  int64_t weight_grad_workspace() const {
    return f.Cout * x_grid.pixels() + (odd_taps ? 2 : 1) * x_grid.P * f.Cin +
           2 * (taps_outer() ? 1 : T) * f.Cout * f.Cin;
  }

  // The forward (x_grid, taps W_t (Cout, Cin)) or the input gradient (`backward`: dy_grid, flipped taps
  // transposed (Cin, Cout)): its input packed in channel pairs, the taps as A operands (the weight itself
  // where weight_in_place), the sums of a block of grid positions; then correlate.
  int64_t correlation_workspace(bool backward) const {
    const int64_t M = backward ? f.Cin : f.Cout, K2 = backward ? Cout2 : Cin2;
    return K2 * (backward ? dy_grid : x_grid).P + T * M * K2 + sums(M);
  }
  template <typename Store>
  void run_correlation(const Plane& in, const u16* w, bool backward, u16* ws, Store&& store) const {
    const Grid& gr = backward ? dy_grid : x_grid;
    const int64_t M = backward ? f.Cin : f.Cout, K2 = backward ? Cout2 : Cin2;
    const int64_t packed = K2 * gr.P, taps = T * M * K2;
    const bool in_place = !backward && weight_in_place();
    pack_channel_pairs(in, gr, ws);
    if (!in_place) pack_taps(w, f.Cout, f.Cin, T, backward, ws + packed);
    correlate(gr, M, K2, in_place ? w : ws + packed, ws, reinterpret_cast<float*>(ws + packed + taps), store);
  }

  // dw (Cout, Cin, kH, kW) from dy (Cout, Hout, Wout) and x (Cin, H, W).
  void weight_grad(const Plane& dy, const Plane& x, u16* ws, u16* dw) const {
    using at::native::cpublas::brgemm;
    const Grid& gr = x_grid;
    const int64_t Cin = f.Cin, Cout = f.Cout, pixels = gr.pixels();
    const int64_t rows = Cout * pixels, pairs = gr.P * Cin;
    pack_grid_rows(dy, gr, ws);
    pack_pixel_pairs(x, gr, 0, ws + rows);
    if (odd_taps) pack_pixel_pairs(x, gr, 1, ws + rows + pairs);
    float* C = reinterpret_cast<float*>(ws + rows + (odd_taps ? 2 : 1) * pairs);
    const auto* a = reinterpret_cast<const at::BFloat16*>(ws);
    // dW_t (Cout, Cin) += dY[:, r0 : r0 + k] @ shift_t(X)^T[r0 : r0 + k]
    const auto run = [&](int64_t t, int64_t r0, float* Ct) {
      const int64_t off = gr.tap_offset(t), par = off & 1, k = std::min(kPixels, pixels - r0);
      const auto* b = reinterpret_cast<const at::BFloat16*>(ws + rows + par * pairs) + ((off - par) + r0) * Cin;
      brgemm(Cout, Cin, k, pixels, Cin, Cin, r0 > 0, a + r0, b, Ct, true);
    };
    if (taps_outer()) {
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t r0 = 0; r0 < pixels; r0 += kPixels) run(t, r0, C);
        store_weight_grad(C, Cout, Cin, T, t, 1, dw);
      }
    } else {
      for (int64_t r0 = 0; r0 < pixels; r0 += kPixels)
        for (int64_t t = 0; t < T; ++t) run(t, r0, C + t * Cout * Cin);
      store_weight_grad(C, Cout, Cin, T, 0, T, dw);
    }
  }
};

// Runs body(i, ws) for i in [0, n) on torch's threads, each thread with its own workspace of
// `per_thread` 16-bit values, and releases the AMX tiles it used.
template <typename Body>
void for_each_sample(int64_t n, int64_t per_thread, const Body& body) {
  at::parallel_for(0, n, 1, [&](int64_t s0, int64_t s1) {
    Workspace<u16> ws(per_thread);
    for (int64_t s = s0; s < s1; ++s) body(s, ws.data());
    at::native::cpublas::brgemm_release(true);
  });
}

}  // namespace dyconv::cpu::amx_detail
#endif  // DYCONV_AMX_BF16
