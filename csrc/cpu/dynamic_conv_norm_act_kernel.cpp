// CPU kernels of dyconv::dynamic_conv_norm_act and its backward.
//
// Forward: the conv GEMM of each tile is followed, while the tile is in cache,
// by per-(sample, tile, channel) mean and M2 (Chan et al. merge afterwards, so
// the variance is as exact as a two-pass one). One more pass applies
// normalize + affine + activation as out = act(y * a[b,c] + s[b,c]): per
// sample right after its last tile where one thread computes whole samples
// (its conv output still in cache), else over all samples after the conv.
// Backward: per sample, one pass recomputes the activation input from the
// saved conv output and sums, per channel, what the affine and norm gradients
// need (run when the conv backward first reads the sample); the conv backward
// forms the conv-output gradient from grad_out and the conv output one span at
// a time, as its GEMMs read it (no full-size dz tensor).
// The convolution itself is cpu/conv.h (shifted GEMMs or im2col tiles); the
// elementwise loops are cpu/row_kernels.h. bfloat16 on AMX: cpu/amx_bf16_norm_act.h; otherwise bfloat16,
// float16 and channels_last: cpu/converted_chunks.h.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <cmath>
#include <memory>
#include <mutex>

#include "checks.h"
#include "cpu/amx_bf16_norm_act.h"
#include "cpu/conv.h"
#include "cpu/converted_chunks.h"
#include "cpu/norm_backward.h"
#include "cpu/row_kernels.h"
#include "outputs.h"

namespace dyconv::cpu {
namespace {

// The statistics over channel rows [i0, i1) of the (B * Cout) rows -> entry s of the (B, G)
// tensors mean and rstd. Tile statistics are per (folded sample, tile, channel of the group):
// row i is channel i % Cg of folded sample i / Cg (f = g.folded(), Cg = f.Cout).
template <typename T>
void finish_stats(const ConvGeometry& f, const TilePlan& p, double eps,
                  const std::vector<acc_t>& tile_mean, const std::vector<acc_t>& tile_m2,
                  int64_t i0, int64_t i1, int64_t s, T* mean, T* rstd) {
  const int64_t N = f.N(), Cg = f.Cout;
  MergedStats all;
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t bf = i / Cg, cg = i % Cg;
    for (int64_t t = 0; t < p.ntiles; ++t) {
      const int64_t k = (bf * p.ntiles + t) * Cg + cg;
      all.merge(acc_t(p.end(t, N) - p.begin(t, N)), tile_mean[k], tile_m2[k]);
    }
  }
  mean[s] = T(all.mean);
  rstd[s] = T(all.rstd(eps));
}

// Where a statistic is over one value, that value is its mean exactly and the
// normalized value is exactly 0: out = act(shift), whatever rstd = 1/sqrt(eps)
// would make of a rounding in y * a - mean * a.
inline bool single_value_stats(Norm norm, const ConvGeometry& g) {
  return norm == Norm::Instance ? g.N() == 1 : norm == Norm::Layer ? g.Cout * g.N() == 1 : false;
}

// The forward in float32 or float64 on checked inputs.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> norm_act_forward(
    const NormActProblem& problem, const at::Tensor& x_in, const at::Tensor& weight_in,
    const at::Tensor& scale_in, const at::Tensor& shift_in, double eps) {
  // Named values, not structured bindings: the lambdas below capture them, which clang < 16 refuses.
  const ConvGeometry& g = problem.g;
  const int64_t groups = g.groups;
  const Norm norm = problem.norm;
  const Activation act = problem.act;
  at::Tensor out, y, mean, rstd;
  std::tie(out, y, mean, rstd) = new_norm_act_outputs(g, norm, x_in);
  if (g.B == 0) return {out, y, mean, rstd};
  const at::Tensor x = x_in.contiguous(), w = weight_in.contiguous();
  const at::Tensor scale = scale_in.contiguous(), shift = shift_in.contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dynamic_conv_norm_act_cpu", [&] {
    using T = scalar_t;
    // The conv runs on each (sample, group) as a sample (f); the norm is over the real samples (g).
    const ConvGeometry f = g.folded();
    const Conv<T> conv(f);
    const TilePlan& p = conv.tiles;
    const int64_t N = g.N(), Cout = g.Cout, Cg = f.Cout;
    T* yp = y.mutable_data_ptr<T>();
    const bool stats = norm != Norm::None, single = single_value_stats(norm, g);
    std::vector<acc_t> tile_mean(stats ? p.items * Cg : 0), tile_m2(stats ? p.items * Cg : 0);
    T* mp = mean.mutable_data_ptr<T>();
    T* rp = rstd.mutable_data_ptr<T>();
    const T* sc = scale.const_data_ptr<T>();
    const T* sh = shift.const_data_ptr<T>();
    T* op_ = out.mutable_data_ptr<T>();
    // out = act((y - mean) * rstd * scale + shift) = act(y * a + o) for channel rows [i0, i1) of B * Cout.
    const auto apply_rows = [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t s = norm == Norm::Layer ? i / Cout : i;
        const T a = single ? T(0) : stats ? rp[s] * sc[i] : sc[i];
        const T o = stats && !single ? sh[i] - mp[s] * a : sh[i];
        with_activation(act, [&](auto A) { apply_row<A.value>(yp + i * N, op_ + i * N, N, a, o); });
      }
    };
    // The statistics of entry s of the (B, G) tensors (a plain bool: no structured binding captured).
    const bool layer_norm = norm == Norm::Layer;
    const auto finish = [&](int64_t s) {
      if (layer_norm) finish_stats<T>(f, p, eps, tile_mean, tile_m2, s * Cout, (s + 1) * Cout, s, mp, rp);
      else finish_stats<T>(f, p, eps, tile_mean, tile_m2, s, s + 1, s, mp, rp);
    };
    // Where one thread computes all tiles of a sample in order, the sample is
    // finished right after its last tile, while its conv output is still in cache
    // (a layer norm over several groups waits for all of them: after the conv).
    const bool inline_apply = conv.whole_samples_in_order() && (norm != Norm::Layer || groups == 1);
    conv.forward(x.const_data_ptr<T>(), w.const_data_ptr<T>(), yp,
                    [&](int64_t bf, int64_t t, int64_t n0, int64_t n1) {
                      if (stats) {
                        for (int64_t c = 0; c < Cg; ++c) {
                          const int64_t k = (bf * p.ntiles + t) * Cg + c;
                          row_stats(yp + (bf * Cg + c) * N + n0, n1 - n0, tile_mean[k], tile_m2[k]);
                        }
                      }
                      if (!inline_apply || t != p.ntiles - 1) return;
                      if (layer_norm) finish(bf);  // groups == 1: bf is the sample
                      else if (stats) for (int64_t i = bf * Cg; i < (bf + 1) * Cg; ++i) finish(i);
                      apply_rows(bf * Cg, (bf + 1) * Cg);
                    });
    if (inline_apply) return;
    if (stats) {
      at::parallel_for(0, mean.size(0) * mean.size(1), 1, [&](int64_t s0, int64_t s1) {
        for (int64_t s = s0; s < s1; ++s) finish(s);
      });
    }
    at::parallel_for(0, g.B * Cout, 1, apply_rows);
  });
  return {out, y, mean, rstd};
}

// The backward in float32 or float64 on checked inputs.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> norm_act_backward(
    const NormActProblem& problem, const at::Tensor& grad_out, const at::Tensor& x_in,
    const at::Tensor& weight_in, const at::Tensor& scale_in, const at::Tensor& shift_in,
    const at::Tensor& y_in, const at::Tensor& mean_in, const at::Tensor& rstd_in, std::array<bool, 4> mask) {
  // Named values, not structured bindings (see the forward).
  const ConvGeometry& g = problem.g;
  const int64_t groups = g.groups;
  const Norm norm = problem.norm;
  const Activation act = problem.act;
  at::Tensor dx, dw, dscale, dshift;
  std::tie(dx, dw, dscale, dshift) = new_norm_act_grads(g, x_in, mask);
  if (g.B == 0 || !(mask[0] || mask[1] || mask[2] || mask[3])) return {dx, dw, dscale, dshift};
  const at::Tensor x = x_in.contiguous(), w = weight_in.contiguous(), y = y_in.contiguous();
  const at::Tensor scale = scale_in.contiguous(), shift = shift_in.contiguous();
  const at::Tensor gout = grad_out.contiguous();
  const bool need_conv = mask[0] || mask[1];
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dynamic_conv_norm_act_backward_cpu", [&] {
    using T = scalar_t;
    const int64_t N = g.N(), Cout = g.Cout;
    const bool stats = norm != Norm::None, single = single_value_stats(norm, g);
    const T* yp = y.const_data_ptr<T>();
    const T* gp = gout.const_data_ptr<T>();
    const T* mp = mean_in.contiguous().const_data_ptr<T>();
    const T* rp = rstd_in.contiguous().const_data_ptr<T>();
    const T* sc = scale.const_data_ptr<T>();
    const T* sh = shift.const_data_ptr<T>();
    // Per sample b, with dz = grad_out * act'(activation input): sum(dz) (= dshift)
    // and sum(dz * xhat) (= dscale) per channel, and from them the norm backward's
    // coefficients: dy = k1 * dz + k2 * y + k3 per (b, c) (cpu/norm_backward.h).
    std::vector<acc_t> s1(g.B * Cout), s2(g.B * Cout);
    std::vector<T> k1(g.B * Cout), k2(g.B * Cout), k3(g.B * Cout);
    T* dsc = mask[2] ? dscale.mutable_data_ptr<T>() : nullptr;
    T* dsh = mask[3] ? dshift.mutable_data_ptr<T>() : nullptr;
    const auto sample_sums = [&](int64_t b) {
      for (int64_t i = b * Cout; i < (b + 1) * Cout; ++i) {
        const int64_t s = norm == Norm::Layer ? b : i;
        const T m = stats ? mp[s] : T(0), r = stats ? rp[s] : T(1);
        const T a = single ? T(0) : r * sc[i], o = single ? sh[i] : sh[i] - m * a;
        acc_t a1 = 0, a2 = 0;
        with_activation(act, [&](auto A) { dz_sums<A.value>(gp + i * N, yp + i * N, N, a, o, m, r, a1, a2); });
        s1[i] = a1, s2[i] = a2;
        if (dsc) dsc[i] = T(a2);
        if (dsh) dsh[i] = T(a1);
      }
      const int64_t i0 = b * Cout, s0 = norm == Norm::Layer ? b : i0;
      norm_backward_coefficients<T>(norm, single, Cout, N, sc + i0, s1.data() + i0, s2.data() + i0,
                                    stats ? mp + s0 : nullptr, stats ? rp + s0 : nullptr, k1.data() + i0,
                                    k2.data() + i0, k3.data() + i0);
    };
    // Each sample's sums run on first use, by the thread whose conv backward
    // reads it next (its grad_out and conv output then still in cache; a pass
    // over the whole batch first reads them from memory twice once the batch
    // outgrows the cache). Samples nothing read are done after.
    std::unique_ptr<std::once_flag[]> summed(new std::once_flag[g.B]);
    const auto all_sums = [&] {
      at::parallel_for(0, g.B, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) std::call_once(summed[b], sample_sums, b);
      });
    };
    if (!need_conv) return all_sums();
    // The conv-output gradient, formed one span at a time as the conv reads it, by
    // the conv of each (sample, group) as a sample (f; its sample bf is sample bf / groups).
    const ConvGeometry f = g.folded();
    const Conv<T> conv(f);
    conv.backward(x.const_data_ptr<T>(), w.const_data_ptr<T>(),
                  mask[0] ? dx.mutable_data_ptr<T>() : nullptr,
                  mask[1] ? dw.mutable_data_ptr<T>() : nullptr,
                  [&](int64_t bf, int64_t c, int64_t n0, int64_t n1, T* dst) {
                    const int64_t b = bf / groups;
                    std::call_once(summed[b], sample_sums, b);
                    const int64_t i = bf * f.Cout + c;
                    const int64_t s = norm == Norm::Layer ? b : i;
                    const T m = stats ? mp[s] : T(0), r = stats ? rp[s] : T(1);
                    const T a = single ? T(0) : r * sc[i], o = single ? sh[i] : sh[i] - m * a;
                    const T* yr = yp + i * N;
                    const T* gr = gp + i * N;
                    const T c1 = k1[i], c2 = k2[i], c3 = k3[i];
                    with_activation(act, [&](auto A) {
                      dy_row<A.value>(gr + n0, yr + n0, dst, n1 - n0, a, o, c1, c2, c3);
                    });
                  });
    all_sums();
  });
  return {dx, dw, dscale, dshift};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> dynamic_conv_norm_act_cpu(
    const at::Tensor& x, const at::Tensor& weight, const at::Tensor& scale, const at::Tensor& shift,
    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation, c10::string_view norm,
    c10::string_view act, double eps, int64_t groups) {
  const NormActProblem problem = check_norm_act_forward(
      x, weight, scale, shift, stride, padding, dilation, norm, act, eps, groups);
#if defined(DYCONV_AMX_BF16)
  if (amx_bf16_applies(problem.g, x.scalar_type())) return amx_bf16_norm_act(problem, x, weight, scale, shift, eps);
#endif
  const auto outs = in_converted_chunks(
      problem.g, {x, weight, scale, shift}, [&](const ConvGeometry& c, const std::vector<at::Tensor>& t) {
        const auto [out, y, mean, rstd] = norm_act_forward({c, problem.norm, problem.act}, t[0], t[1], t[2], t[3], eps);
        return std::vector<at::Tensor>{out, y, mean, rstd};
      });
  return {outs[0], outs[1], outs[2], outs[3]};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> dynamic_conv_norm_act_backward_cpu(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& scale,
    const at::Tensor& shift, const at::Tensor& y, const at::Tensor& mean, const at::Tensor& rstd,
    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation, c10::string_view norm,
    c10::string_view act, std::array<bool, 4> mask, int64_t groups) {
  const NormActProblem problem = check_norm_act_backward(
      grad_out, x, weight, scale, shift, y, mean, rstd, stride, padding, dilation, norm, act, groups);
#if defined(DYCONV_AMX_BF16)
  if (amx_bf16_applies(problem.g, x.scalar_type()))
    return amx_bf16_norm_act_backward(problem, grad_out, x, weight, scale, shift, y, mean, rstd, mask);
#endif
  const auto grads = in_converted_chunks(
      problem.g, {x, grad_out, weight, scale, shift, y, mean, rstd},
      [&](const ConvGeometry& c, const std::vector<at::Tensor>& t) {
        const auto [dx, dw, dscale, dshift] =
            norm_act_backward({c, problem.norm, problem.act}, t[1], t[0], t[2], t[3], t[4], t[5], t[6], t[7], mask);
        return std::vector<at::Tensor>{dx, dw, dscale, dshift};
      });
  return {grads[0], grads[1], grads[2], grads[3]};
}

}  // namespace

TORCH_LIBRARY_IMPL(dyconv, CPU, m) {
  m.impl("dynamic_conv_norm_act", &dynamic_conv_norm_act_cpu);
  m.impl("dynamic_conv_norm_act_backward", &dynamic_conv_norm_act_backward_cpu);
}

}  // namespace dyconv::cpu
