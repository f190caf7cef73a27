// bfloat16 convolutions on AMX: the shifted GEMMs of cpu/shifted_conv.h with bfloat16 operands
// and float32 accumulation, through oneDNN's brgemm micro-kernel, which libtorch_cpu exports
// (at::native::cpublas::brgemm, bf16 x bf16 -> f32), on CPUs with AMX-BF16. The per-sample kernels:
// cpu/amx_bf16_kernels.h; the fused op on them: cpu/amx_bf16_norm_act.h.
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
// a CPU with AMX-BF16; DYCONV_AMX=0 turns it off (read at each call). Elsewhere bfloat16 runs the
// float32 engines (cpu/converted_chunks.h).
#pragma once

#include <ATen/ATen.h>

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "checks.h"
#include "cpu/amx_bf16_kernels.h"
#include "cpu/shifted_conv.h"
#include "outputs.h"

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
// them (it asks the OS for the tile state itself; could_pack: oneDNN's ISA is AMX).
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
  // torch's brgemm refuses VNNI operands while oneDNN is switched off (torch.backends.mkldnn.enabled = False),
  // which a program may do at any time: asked at each call.
  return cpu_has_amx_bf16() && at::globalContext().userEnabledMkldnn();
}

#if defined(DYCONV_AMX_BF16)
namespace amx_detail {

// Sample s's part of a contiguous per-sample tensor of 16-bit values, `per_sample` values each.
inline const u16* sample_of(const at::Tensor& t, int64_t s, int64_t per_sample) {
  return static_cast<const u16*>(t.const_data_ptr()) + s * per_sample;
}

}  // namespace amx_detail

// The forward: y (B, Cout, Hout, Wout) in x's memory format; bias undefined: none.
inline at::Tensor amx_bf16_conv2d(const ConvGeometry& g, const at::Tensor& x, const at::Tensor& weight,
                                  const at::Tensor& bias) {
  using namespace amx_detail;
  const AmxSample k(g.folded());
  at::Tensor y = new_output_in_format_of(x, {g.B, g.Cout, g.Hout, g.Wout});
  const at::Tensor w = weight.contiguous();
  const at::Tensor b = bias.defined() ? bias.contiguous() : at::Tensor();
  for_each_sample(k.f.B, k.forward_workspace(), [&](int64_t s, u16* ws) {
    const u16* bp = b.defined() ? sample_of(b, s, k.f.Cout) : nullptr;
    const Plane out = plane_of(y, g.groups, s);
    k.forward(plane_of(x, g.groups, s), sample_of(w, s, k.f.Cout * k.f.Cin * k.T), ws,
              [&](const float* C, int64_t n0, int64_t n) { store_outputs(C, kColumns, n0, n, k.x_grid, bp, out); });
  });
  return y;
}

// The input gradient for the convolution g: dx (B, Cin, H, W) in like's memory format, from dy
// (B, Cout, Hout, Wout); plus bias (B, Cin) where defined (the transposed convolution's forward).
inline at::Tensor amx_bf16_conv2d_input_grad(const ConvGeometry& g, const at::Tensor& dy, const at::Tensor& weight,
                                             const at::Tensor& bias, const at::Tensor& like) {
  using namespace amx_detail;
  const AmxSample k(g.folded());
  at::Tensor dx = new_output_in_format_of(like, {g.B, g.Cin, g.H, g.W});
  const at::Tensor w = weight.contiguous();
  const at::Tensor b = bias.defined() ? bias.contiguous() : at::Tensor();
  for_each_sample(k.f.B, k.input_grad_workspace(), [&](int64_t s, u16* ws) {
    k.input_grad(plane_of(dy, g.groups, s), sample_of(w, s, k.f.Cout * k.f.Cin * k.T),
                 b.defined() ? sample_of(b, s, k.f.Cin) : nullptr, ws, plane_of(dx, g.groups, s));
  });
  return dx;
}

// The weight gradient (B, Cout, Cin / groups, kH, kW), contiguous, from dy and x.
inline at::Tensor amx_bf16_conv2d_weight_grad(const ConvGeometry& g, const at::Tensor& dy, const at::Tensor& x) {
  using namespace amx_detail;
  const AmxSample k(g.folded());
  at::Tensor dw = at::empty({g.B, g.Cout, k.f.Cin, g.kH, g.kW}, x.options());
  const int64_t per_sample = k.f.Cout * k.f.Cin * k.T;
  for_each_sample(k.f.B, k.weight_grad_workspace(), [&](int64_t s, u16* ws) {
    k.weight_grad(plane_of(dy, g.groups, s), plane_of(x, g.groups, s), ws,
                  static_cast<u16*>(dw.mutable_data_ptr()) + s * per_sample);
  });
  return dw;
}

#endif  // DYCONV_AMX_BF16

}  // namespace dyconv::cpu
