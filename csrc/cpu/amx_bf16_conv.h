// bfloat16 convolutions on AMX: the shifted GEMMs of cpu/shifted_conv.h with bfloat16 operands
// and float32 accumulation, through oneDNN's brgemm micro-kernel, which libtorch_cpu exports
// (at::native::cpublas::brgemm, bf16 x bf16 -> f32), on CPUs with AMX-BF16.
//
// Each (folded) sample is packed once, zero-padded onto a grid of row stride Wp, so that every
// kernel tap is the same buffer shifted by dy * Wp + dx (the garbage columns past each output row
// are dropped on the way out):
//   forward      Y (Cout, n)  = sum_t W_t (Cout, Cin) @ shift_t(X);
//   input grad   dX (Cin, n)  = the same on dY padded by (k - 1) * d - p, with the flipped taps
//                               transposed, W'_t (Cin, Cout);
//   weight grad  dW_t (Cout, Cin) = dY (Cout, pixels) @ shift_t(X)^T (pixels, Cin), dY zero in the
//                               dropped columns.
// brgemm's B operand is VNNI: pairs along its reduction dimension interleaved, (K/2, N, 2). For the
// forward and the input gradient that is pairs of channels, and a shift along the grid moves whole
// pairs, so one packing serves every tap. For the weight gradient the reduction runs over pixels,
// where a shift by an odd number of positions starts the pairs one pixel later: X^T is packed twice,
// in pairs starting at even and at odd positions (once where every tap's shift is even), and each tap
// reads the packing of its parity.
// Products of two bfloat16 are exact in float32 and sums are float32, as in the float32 engines on
// the converted inputs; outputs are rounded once to bfloat16. The result is not bitwise that path's
// (sums in another order): within one bfloat16 rounding of it (tests/test_ops_amx_bf16.py).
// Where it applies: bfloat16, stride 1, padding within the kernel's reach (shifted_conv_applies),
// at least kAmxMinChannels channels per group each way and kAmxMinPixels output pixels per sample, on
// a CPU with AMX-BF16; DYCONV_AMX=0 turns it off (read at each call). Elsewhere bfloat16 runs the float32 engines (cpu/converted_chunks.h).
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if __has_include(<ATen/native/CPUBlas.h>)
#include <ATen/native/CPUBlas.h>
#endif
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "checks.h"
#include "cpu/shifted_conv.h"
#include "cpu/workspace.h"
#include "outputs.h"

#if defined(__x86_64__) && defined(CPUBLAS_BRGEMM_BF16BF16F32)
#define DYCONV_AMX_BF16 1
#endif

namespace dyconv::cpu {

// Channels per group, in and out, below which the float32 engines stay: with fewer, brgemm's
// 16 x 32 tiles are mostly padding (and depthwise layers have their own kernels).
constexpr int64_t kAmxMinChannels = 16;
// Output pixels per sample below which they stay too: each weight element is packed (forward, input
// gradient) and stored (weight gradient) once per sample and used once per output pixel, so on small
// maps the packing outweighs the faster GEMMs. Two quiet Sapphire Rapids cores, forward + backward,
// AMX against the float32 engines on the same bfloat16 inputs (benchmarks/time_users.py --dtype
// bfloat16, DYCONV_AMX=0 for the latter): ODConv 512->512 at 7x7 (49 pixels) 225 vs 159 ms,
// EfficientNet 1x1 layers at 8x8 (64) 3.8-4.0 vs 2.9-3.0 ms and at 4x4 6.7-7.4 vs 3.8-5.9 ms;
// CondConv 1x1 at 14x14 (196) level (30.8 vs 30.7 ms); 36x36 and larger 1.8-4x faster.
constexpr int64_t kAmxMinPixels = 128;

// Whether this CPU runs bfloat16 AMX tiles (CPUID leaf 7: EDX bit 22) and torch's brgemm can use
// them (it asks the OS for the tile state itself).
inline bool cpu_has_amx_bf16() {
#if defined(DYCONV_AMX_BF16)
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((d >> 22) & 1u)) return false;
    return at::native::cpublas::could_pack(at::kBFloat16);
  }();
  return has;
#else
  return false;
#endif
}

// Whether the convolution g of an x of this dtype runs here (see the top of this file).
inline bool amx_bf16_applies(const ConvGeometry& g, at::ScalarType dtype) {
  if (dtype != at::kBFloat16 || g.B == 0 || !shifted_conv_applies(g)) return false;
  if (g.Cin / g.groups < kAmxMinChannels || g.Cout / g.groups < kAmxMinChannels) return false;
  if (g.Hout * g.Wout < kAmxMinPixels) return false;
  const char* env = std::getenv("DYCONV_AMX");
  if (env && std::strcmp(env, "0") == 0) return false;
  return cpu_has_amx_bf16();
}

#if defined(DYCONV_AMX_BF16)
namespace amx_detail {

using u16 = uint16_t;
#define DYCONV_V4 __attribute__((target("arch=x86-64-v4")))

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
DYCONV_V4 inline u16 to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (f != f) return 0x7fc0;
  return u16((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// x onto the grid with its channel pairs interleaved: dst[(c / 2) * 2P + 2q + c % 2] for grid
// position q; zero elsewhere (padding, an odd channel count's last pair).
DYCONV_V4 inline void pack_channel_pairs(const Plane& x, const Grid& gr, u16* dst) {
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
DYCONV_V4 inline void pack_grid_rows(const Plane& dy, const Grid& gr, u16* dst) {
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
DYCONV_V4 inline void pack_pixel_pairs(const Plane& x, const Grid& gr, int64_t par, u16* dst) {
  std::memset(dst, 0, gr.P * x.C * sizeof(u16));
  constexpr int64_t kBlock = 16;  // channels per pass: 16 read streams where x is NCHW
  for (int64_t i = 0; i < x.H; ++i)
    for (int64_t c0 = 0; c0 < x.C; c0 += kBlock) {
      const int64_t c1 = std::min(x.C, c0 + kBlock);
      for (int64_t j = 0; j < x.W; ++j) {
        const int64_t q = (i + gr.pT) * gr.Wp + j + gr.pL - par;
        if (q < 0) continue;  // before the first pair of the odd packing: grid padding, never read
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
DYCONV_V4 inline void pack_taps(const u16* w, int64_t Cout, int64_t Cin, int64_t T, bool flip_transpose, u16* dst) {
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
DYCONV_V4 inline void store_weight_grad(const float* C, int64_t Cout, int64_t Cin, int64_t T, int64_t t0, int64_t n,
                                        u16* dw) {
  const int64_t plane = Cout * Cin;
  for (int64_t i = 0; i < plane; ++i)
    for (int64_t t = 0; t < n; ++t) dw[i * T + t0 + t] = to_bf16(C[t * plane + i]);
}

// Rows [0, M) of the grid positions [n0, n0 + n) in C (row stride ldc) that are outputs, plus
// bias[m] (or nothing), rounded into out (M, Ho, Wo).
DYCONV_V4 inline void store_outputs(const float* C, int64_t ldc, int64_t n0, int64_t n, const Grid& gr,
                                    const u16* bias, int64_t bias_stride, const Plane& out) {
  for (int64_t oy = n0 / gr.Wp; oy * gr.Wp < n0 + n; ++oy) {
    const int64_t a = std::max<int64_t>(0, n0 - oy * gr.Wp), e = std::min(gr.Wo, n0 + n - oy * gr.Wp);
    if (a >= e) continue;
    for (int64_t m = 0; m < out.C; ++m) {
      float add = 0.f;
      if (bias) {
        const uint32_t u = uint32_t(bias[m * bias_stride]) << 16;
        std::memcpy(&add, &u, 4);
      }
      const float* src = C + m * ldc + oy * gr.Wp - n0;
      u16* dst = out.p + m * out.sc + oy * out.sh;
      if (out.sw == 1)
        for (int64_t ox = a; ox < e; ++ox) dst[ox] = to_bf16(src[ox] + add);
      else
        for (int64_t ox = a; ox < e; ++ox) dst[ox * out.sw] = to_bf16(src[ox] + add);
    }
  }
}

// Grid positions per brgemm call: a block of the output (M x kColumns float32) that stays in L1/L2.
constexpr int64_t kColumns = 512;

// out (M, Ho, Wo) = sum over taps A_t (M, K2) @ shift_t(packed), packed by pack_channel_pairs.
inline void correlate(const Grid& gr, int64_t M, int64_t K2, const u16* A, const u16* packed, float* C,
                      const u16* bias, int64_t bias_stride, const Plane& out) {
  using at::native::cpublas::brgemm;
  const auto* a = reinterpret_cast<const at::BFloat16*>(A);
  const auto* b = reinterpret_cast<const at::BFloat16*>(packed);
  const int64_t T = gr.kH * gr.kW;
  for (int64_t n0 = 0; n0 < gr.outputs(); n0 += kColumns) {
    const int64_t n = std::min(kColumns, gr.outputs() - n0);
    for (int64_t t = 0; t < T; ++t)
      brgemm(M, n, K2, K2, gr.P, kColumns, t > 0, a + t * M * K2, b + 2 * (n0 + gr.tap_offset(t)), C, true);
    store_outputs(C, kColumns, n0, n, gr, bias, bias_stride, out);
  }
}

// Runs body(s, ws) for the folded samples [0, n) on torch's threads, each with its own
// workspace of `per_thread` 16-bit values, and releases the AMX tiles it used.
template <typename Body>
void for_each_sample(int64_t n, int64_t per_thread, const Body& body) {
  at::parallel_for(0, n, 1, [&](int64_t s0, int64_t s1) {
    Workspace<u16> ws(per_thread);
    for (int64_t s = s0; s < s1; ++s) body(s, ws.data());
    at::native::cpublas::brgemm_release(true);
  });
}

inline at::Tensor new_in_format(const at::Tensor& like, c10::IntArrayRef sizes) {
  return at::empty(sizes, like.options().memory_format(gives_channels_last(like) ? at::MemoryFormat::ChannelsLast
                                                                                 : at::MemoryFormat::Contiguous));
}

}  // namespace amx_detail

// The forward: y (B, Cout, Hout, Wout) in x's memory format; bias undefined: none.
inline at::Tensor amx_bf16_conv2d(const ConvGeometry& g, const at::Tensor& x, const at::Tensor& weight,
                                  const at::Tensor& bias) {
  using namespace amx_detail;
  const ConvGeometry f = g.folded();
  at::Tensor y = new_in_format(x, {g.B, g.Cout, g.Hout, g.Wout});
  const at::Tensor w = weight.contiguous();
  const at::Tensor b = bias.defined() ? bias.contiguous() : at::Tensor();
  const Grid gr(g.H, g.W, g.pH, g.pW, g.kH, g.kW, g.dH, g.dW);
  const int64_t T = g.kH * g.kW, K2 = (f.Cin + 1) / 2 * 2;
  const int64_t packed = K2 * gr.P, taps = T * f.Cout * K2, acc = 2 * f.Cout * kColumns;  // acc: floats as u16
  const bool in_place = T == 1 && K2 == f.Cin;  // a 1x1 sample's weight (Cout, Cin) is already A
  for_each_sample(f.B, packed + taps + acc, [&](int64_t s, u16* ws) {
    pack_channel_pairs(plane_of(x, g.groups, s), gr, ws);
    const u16* ws_w = static_cast<const u16*>(w.const_data_ptr()) + s * f.Cout * f.Cin * T;
    if (!in_place) pack_taps(ws_w, f.Cout, f.Cin, T, false, ws + packed);
    const u16* bp = b.defined() ? static_cast<const u16*>(b.const_data_ptr()) + s * f.Cout : nullptr;
    correlate(gr, f.Cout, K2, in_place ? ws_w : ws + packed, ws, reinterpret_cast<float*>(ws + packed + taps), bp,
              1, plane_of(y, g.groups, s));
  });
  return y;
}

// The input gradient for the convolution g: dx (B, Cin, H, W) in like's memory format, from dy
// (B, Cout, Hout, Wout); plus bias (B, Cin) where defined (the transposed convolution's forward).
inline at::Tensor amx_bf16_conv2d_input_grad(const ConvGeometry& g, const at::Tensor& dy, const at::Tensor& weight,
                                             const at::Tensor& bias, const at::Tensor& like) {
  using namespace amx_detail;
  const ConvGeometry f = g.folded();
  at::Tensor dx = new_in_format(like, {g.B, g.Cin, g.H, g.W});
  const at::Tensor w = weight.contiguous();
  const at::Tensor b = bias.defined() ? bias.contiguous() : at::Tensor();
  const Grid gr(g.Hout, g.Wout, (g.kH - 1) * g.dH - g.pH, (g.kW - 1) * g.dW - g.pW, g.kH, g.kW, g.dH, g.dW);
  const int64_t T = g.kH * g.kW, K2 = (f.Cout + 1) / 2 * 2;
  const int64_t packed = K2 * gr.P, taps = T * f.Cin * K2, acc = 2 * f.Cin * kColumns;
  for_each_sample(f.B, packed + taps + acc, [&](int64_t s, u16* ws) {
    pack_channel_pairs(plane_of(dy, g.groups, s), gr, ws);
    pack_taps(static_cast<const u16*>(w.const_data_ptr()) + s * f.Cout * f.Cin * T, f.Cout, f.Cin, T, true,
              ws + packed);
    const u16* bp = b.defined() ? static_cast<const u16*>(b.const_data_ptr()) + s * f.Cin : nullptr;
    correlate(gr, f.Cin, K2, ws + packed, ws, reinterpret_cast<float*>(ws + packed + taps), bp, 1,
              plane_of(dx, g.groups, s));
  });
  return dx;
}

// The weight gradient (B, Cout, Cin / groups, kH, kW), contiguous, from dy and x.
inline at::Tensor amx_bf16_conv2d_weight_grad(const ConvGeometry& g, const at::Tensor& dy, const at::Tensor& x) {
  using namespace amx_detail;
  using at::native::cpublas::brgemm;
  const ConvGeometry f = g.folded();
  at::Tensor dw = at::empty({g.B, g.Cout, f.Cin, g.kH, g.kW}, x.options());
  const Grid gr(g.H, g.W, g.pH, g.pW, g.kH, g.kW, g.dH, g.dW);
  const int64_t T = g.kH * g.kW, Cin = f.Cin, Cout = f.Cout, pixels = gr.pixels();
  bool odd = false;  // a tap shifted by an odd number of grid positions: X^T packed at both parities
  for (int64_t t = 0; t < T; ++t) odd = odd || (gr.tap_offset(t) & 1);
  // Reduction blocks of kPixels: a block of the packed X^T (kPixels x Cin) stays in L2 for all taps, whose
  // float32 sums are kept side by side unless they would not fit in L2 beside it; then tap after tap.
  constexpr int64_t kPixels = 512, kSums = int64_t(1) << 20;
  const bool taps_outer = T * Cout * Cin * int64_t(sizeof(float)) > kSums;
  const int64_t rows = Cout * pixels, pairs = gr.P * Cin, acc = 2 * (taps_outer ? 1 : T) * Cout * Cin;
  for_each_sample(f.B, rows + (odd ? 2 : 1) * pairs + acc, [&](int64_t s, u16* ws) {
    pack_grid_rows(plane_of(dy, g.groups, s), gr, ws);
    const Plane xs = plane_of(x, g.groups, s);
    pack_pixel_pairs(xs, gr, 0, ws + rows);
    if (odd) pack_pixel_pairs(xs, gr, 1, ws + rows + pairs);
    float* C = reinterpret_cast<float*>(ws + rows + (odd ? 2 : 1) * pairs);
    const auto* a = reinterpret_cast<const at::BFloat16*>(ws);
    // dW_t (Cout, Cin) += dY[:, r0 : r0 + k] @ shift_t(X)^T[r0 : r0 + k]
    const auto run = [&](int64_t t, int64_t r0, float* Ct) {
      const int64_t off = gr.tap_offset(t), par = off & 1, k = std::min(kPixels, pixels - r0);
      const auto* b = reinterpret_cast<const at::BFloat16*>(ws + rows + par * pairs) + ((off - par) + r0) * Cin;
      brgemm(Cout, Cin, k, pixels, Cin, Cin, r0 > 0, a + r0, b, Ct, true);
    };
    u16* d = static_cast<u16*>(dw.mutable_data_ptr()) + s * Cout * Cin * T;
    if (taps_outer) {
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t r0 = 0; r0 < pixels; r0 += kPixels) run(t, r0, C);
        store_weight_grad(C, Cout, Cin, T, t, 1, d);
      }
    } else {
      for (int64_t r0 = 0; r0 < pixels; r0 += kPixels)
        for (int64_t t = 0; t < T; ++t) run(t, r0, C + t * Cout * Cin);
      store_weight_grad(C, Cout, Cin, T, 0, T, d);
    }
  });
  return dw;
}

#undef DYCONV_V4
#else  // never called: amx_bf16_applies is false without AMX support in torch and the compiler
inline at::Tensor amx_bf16_conv2d(const ConvGeometry&, const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  TORCH_INTERNAL_ASSERT(false, "dyconv was built without the AMX bfloat16 kernels");
}
inline at::Tensor amx_bf16_conv2d_input_grad(const ConvGeometry&, const at::Tensor&, const at::Tensor&,
                                             const at::Tensor&, const at::Tensor&) {
  TORCH_INTERNAL_ASSERT(false, "dyconv was built without the AMX bfloat16 kernels");
}
inline at::Tensor amx_bf16_conv2d_weight_grad(const ConvGeometry&, const at::Tensor&, const at::Tensor&) {
  TORCH_INTERNAL_ASSERT(false, "dyconv was built without the AMX bfloat16 kernels");
}
#endif  // DYCONV_AMX_BF16

}  // namespace dyconv::cpu
