// dynamic_conv_norm_act in bfloat16 on AMX (where cpu/amx_bf16_conv.h's rule takes the conv), one
// sample per thread at a time:
// - forward: the conv's float32 sums of every group of the sample into a float32 workspace
//   (cpu/amx_bf16_kernels.h), the statistics from them (two passes per channel, cpu/row_kernels.h;
//   channels merged for a layer norm), then out = act(y * a + o) and conv_out, each rounded once to
//   bfloat16: the float32 kernel's arithmetic on the AMX sums;
// - backward: per channel the sums of dz = grad_out * act'(...) recomputed from the saved conv_out
//   (as the float32 kernel does), the norm's coefficients (cpu/norm_backward.h), then the conv-output
//   gradient dy = k1 * dz + k2 * y + k3 rounded to bfloat16 (brgemm's operands are bfloat16: the one
//   rounding more than the float32 kernel on converted inputs, which keeps dy in float32), and the
//   conv's input and weight gradients from it on AMX.
// Every statistic is over at least kAmxMinPixels values here, so the single-value case of the
// float32 kernel does not arise.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "checks.h"
#include "cpu/amx_bf16_conv.h"
#include "cpu/amx_bf16_kernels.h"
#include "cpu/norm_backward.h"
#include "cpu/row_kernels.h"
#include "outputs.h"

#if defined(DYCONV_AMX_BF16)
namespace dyconv::cpu {
namespace amx_detail {

DYCONV_AMX_V4 inline float to_float(u16 v) {
  const uint32_t u = uint32_t(v) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Row c of a (C, H, W) plane as n = H * W floats.
DYCONV_AMX_V4 inline void row_to_float(const Plane& t, int64_t c, float* dst) {
  const u16* base = t.p + c * t.sc;
  if (t.sw == 1 && t.sh == t.W) {
    for (int64_t i = 0; i < t.H * t.W; ++i) dst[i] = to_float(base[i]);
    return;
  }
  for (int64_t i = 0; i < t.H; ++i)
    for (int64_t j = 0; j < t.W; ++j) *dst++ = to_float(base[i * t.sh + j * t.sw]);
}

// n floats rounded into row c of a (C, H, W) plane.
DYCONV_AMX_V4 inline void row_from_float(const float* src, const Plane& t, int64_t c) {
  u16* base = t.p + c * t.sc;
  if (t.sw == 1 && t.sh == t.W) {
    for (int64_t i = 0; i < t.H * t.W; ++i) base[i] = to_bf16(src[i]);
    return;
  }
  for (int64_t i = 0; i < t.H; ++i)
    for (int64_t j = 0; j < t.W; ++j) base[i * t.sh + j * t.sw] = to_bf16(*src++);
}

// Sample b of a (B, C, H, W) tensor as one plane (all its channels, groups together).
inline Plane sample_plane(const at::Tensor& t, int64_t b) { return plane_of(t, 1, b); }

// Sample b's (B, K) entries of a contiguous bfloat16 tensor as floats.
inline std::vector<float> floats_of(const at::Tensor& t, int64_t b) {
  const int64_t K = t.size(1);
  std::vector<float> v(K);
  for (int64_t k = 0; k < K; ++k) v[k] = to_float(sample_of(t, b, K)[k]);
  return v;
}

}  // namespace amx_detail

// The forward: out (x's memory format), conv_out (NCHW), mean and rstd (B, stat_groups).
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> amx_bf16_norm_act(
    const NormActProblem& problem, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& scale_in,
    const at::Tensor& shift_in, double eps) {
  using namespace amx_detail;
  const ConvGeometry& g = problem.g;
  const Norm norm = problem.norm;
  const Activation act = problem.act;
  const AmxSample k(g.folded());
  const int64_t N = g.N(), Cout = g.Cout, Cg = k.f.Cout, groups = g.groups;
  const int64_t G = stat_groups(norm, Cout);
  at::Tensor out = new_output_in_format_of(x, {g.B, Cout, g.Hout, g.Wout});
  at::Tensor y = new_output(x, {g.B, Cout, g.Hout, g.Wout});
  at::Tensor mean = new_output(x, {g.B, G}), rstd = new_output(x, {g.B, G});
  const at::Tensor w = weight.contiguous(), scale = scale_in.contiguous(), shift = shift_in.contiguous();
  const int64_t floats = Cout * N + N;  // the sample's conv sums, one activated row
  for_each_sample(g.B, k.forward_workspace() + 2 * floats, [&](int64_t b, u16* ws) {
    float* z = reinterpret_cast<float*>(ws + k.forward_workspace());
    float* row = z + Cout * N;
    for (int64_t grp = 0; grp < groups; ++grp) {
      const int64_t s = b * groups + grp;
      float* zg = z + grp * Cg * N;
      k.forward(plane_of(x, groups, s), sample_of(w, s, Cg * k.f.Cin * k.T), ws,
                [&](const float* C, int64_t n0, int64_t n) {
                  const Grid& gr = k.x_grid;
                  for_each_output_run(gr, n0, n, [&](int64_t oy, int64_t a, int64_t e) {
                    for (int64_t m = 0; m < Cg; ++m)
                      std::memcpy(zg + m * N + oy * gr.Wo + a, C + m * kColumns + oy * gr.Wp - n0 + a,
                                  (e - a) * sizeof(float));
                  });
                });
    }
    const std::vector<float> sc = floats_of(scale, b), sh = floats_of(shift, b);
    std::vector<float> m(Cout, 0.f), r(Cout, 1.f);  // per channel (a layer norm: the sample's, repeated)
    if (norm != Norm::None) {
      std::vector<acc_t> cm(Cout), cm2(Cout);
      for (int64_t c = 0; c < Cout; ++c) row_stats(z + c * N, N, cm[c], cm2[c]);
      MergedStats all;  // a layer norm's: the channels merged
      for (int64_t c = 0; c < Cout; ++c) {
        all.merge(acc_t(N), cm[c], cm2[c]);
        m[c] = float(cm[c]), r[c] = float(MergedStats{acc_t(N), cm[c], cm2[c]}.rstd(eps));
      }
      if (norm == Norm::Layer) {
        std::fill(m.begin(), m.end(), float(all.mean));
        std::fill(r.begin(), r.end(), float(all.rstd(eps)));
      }
      u16* mp = static_cast<u16*>(mean.mutable_data_ptr()) + b * G;
      u16* rp = static_cast<u16*>(rstd.mutable_data_ptr()) + b * G;
      for (int64_t s = 0; s < G; ++s) mp[s] = to_bf16(m[s]), rp[s] = to_bf16(r[s]);
    }
    const Plane op = sample_plane(out, b), yp = sample_plane(y, b);
    for (int64_t c = 0; c < Cout; ++c) {
      const float a = r[c] * sc[c], o = norm == Norm::None ? sh[c] : sh[c] - m[c] * a;
      with_activation(act, [&](auto A) { apply_row<A.value>(z + c * N, row, N, a, o); });
      row_from_float(row, op, c);
      row_from_float(z + c * N, yp, c);
    }
  });
  return {out, y, mean, rstd};
}

// The backward: dx (x's memory format), dw, dscale, dshift, as mask asks.
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> amx_bf16_norm_act_backward(
    const NormActProblem& problem, const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& weight,
    const at::Tensor& scale_in, const at::Tensor& shift_in, const at::Tensor& y, const at::Tensor& mean_in,
    const at::Tensor& rstd_in, std::array<bool, 4> mask) {
  using namespace amx_detail;
  const ConvGeometry& g = problem.g;
  const Norm norm = problem.norm;
  const Activation act = problem.act;
  const AmxSample k(g.folded());
  const int64_t N = g.N(), Cout = g.Cout, Cg = k.f.Cout, Cin_g = k.f.Cin, groups = g.groups;
  at::Tensor dx, dw, dscale, dshift;
  std::tie(dx, dw, dscale, dshift) = new_norm_act_grads(g, x, {false, mask[1], mask[2], mask[3]});
  if (mask[0]) dx = new_output_in_format_of(x, {g.B, g.Cin, g.H, g.W});
  const at::Tensor w = weight.contiguous(), scale = scale_in.contiguous(), shift = shift_in.contiguous();
  const at::Tensor mean = mean_in.contiguous(), rstd = rstd_in.contiguous();
  const bool need_conv = mask[0] || mask[1];
  u16* dsc = mask[2] ? static_cast<u16*>(dscale.mutable_data_ptr()) : nullptr;
  u16* dsh = mask[3] ? static_cast<u16*>(dshift.mutable_data_ptr()) : nullptr;
  u16* dwp = mask[1] ? static_cast<u16*>(dw.mutable_data_ptr()) : nullptr;
  const int64_t conv_ws = need_conv ? std::max(mask[0] ? k.input_grad_workspace() : 0,
                                               mask[1] ? k.weight_grad_workspace() : 0) : 0;
  const int64_t dz_values = need_conv ? (Cout * N + 1) / 2 * 2 : 0;  // even: the floats after it stay aligned
  for_each_sample(g.B, conv_ws + dz_values + 2 * 3 * N, [&](int64_t b, u16* ws) {
    u16* dz = ws + conv_ws;
    float* gf = reinterpret_cast<float*>(dz + dz_values);
    float* yf = gf + N;
    float* row = yf + N;
    const std::vector<float> sc = floats_of(scale, b), sh = floats_of(shift, b);
    std::vector<float> m(Cout, 0.f), r(Cout, 1.f);
    if (norm != Norm::None) {
      const std::vector<float> mv = floats_of(mean, b), rv = floats_of(rstd, b);
      for (int64_t c = 0; c < Cout; ++c) {
        const int64_t s = norm == Norm::Layer ? 0 : c;
        m[c] = mv[s], r[c] = rv[s];
      }
    }
    const Plane gp = sample_plane(grad_out, b), yp = sample_plane(y, b);
    const auto a_of = [&](int64_t c) { return norm == Norm::None ? sc[c] : r[c] * sc[c]; };
    const auto o_of = [&](int64_t c) { return norm == Norm::None ? sh[c] : sh[c] - m[c] * a_of(c); };
    std::vector<acc_t> s1(Cout, 0), s2(Cout, 0);
    // Each channel's rows are converted to float32 here and again for dy below: from bfloat16 that reads half
    // the bytes that keeping the sample's float32 rows (2 x Cout x N, past L2 at layer 3) would.
    for (int64_t c = 0; c < Cout; ++c) {
      row_to_float(gp, c, gf), row_to_float(yp, c, yf);
      with_activation(act,
                      [&](auto A) { dz_sums<A.value>(gf, yf, N, a_of(c), o_of(c), m[c], r[c], s1[c], s2[c]); });
      if (dsc) dsc[b * Cout + c] = to_bf16(float(s2[c]));
      if (dsh) dsh[b * Cout + c] = to_bf16(float(s1[c]));
    }
    if (!need_conv) return;
    std::vector<float> k1(Cout), k2(Cout), k3(Cout);
    norm_backward_coefficients<float>(norm, false, Cout, N, sc.data(), s1.data(), s2.data(), m.data(), r.data(),
                                      k1.data(), k2.data(), k3.data());
    const Plane dzp{dz, Cout, g.Hout, g.Wout, N, g.Wout, 1};
    for (int64_t c = 0; c < Cout; ++c) {
      row_to_float(gp, c, gf), row_to_float(yp, c, yf);
      with_activation(act,
                      [&](auto A) { dy_row<A.value>(gf, yf, row, N, a_of(c), o_of(c), k1[c], k2[c], k3[c]); });
      row_from_float(row, dzp, c);
    }
    for (int64_t grp = 0; grp < groups; ++grp) {
      const int64_t s = b * groups + grp;
      const Plane dzg{dz + grp * Cg * N, Cg, g.Hout, g.Wout, N, g.Wout, 1};
      const int64_t per_sample = Cg * Cin_g * k.T;
      if (mask[0]) k.input_grad(dzg, sample_of(w, s, per_sample), nullptr, ws, plane_of(dx, groups, s));
      if (dwp) k.weight_grad(dzg, plane_of(x, groups, s), ws, dwp + s * per_sample);
    }
  });
  return {dx, dw, dscale, dshift};
}

}  // namespace dyconv::cpu
#endif  // DYCONV_AMX_BF16
