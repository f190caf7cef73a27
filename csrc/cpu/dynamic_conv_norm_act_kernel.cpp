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
// elementwise loops are cpu/row_kernels.h.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <cmath>
#include <memory>
#include <mutex>

#include "checks.h"
#include "cpu/conv.h"
#include "cpu/row_kernels.h"
#include "outputs.h"

namespace dyconv::cpu {
namespace {

// Statistics of sample b -> its (mean, rstd) entries of the (B, G) tensors.
template <typename T>
void finish_sample_stats(const ConvGeometry& g, const TilePlan& p, Norm norm, double eps,
                         const std::vector<acc_t>& tile_mean, const std::vector<acc_t>& tile_m2,
                         int64_t b, T* mean, T* rstd) {
  const int64_t N = g.N();
  const int64_t groups = norm == Norm::Layer ? 1 : g.Cout;
  for (int64_t grp = 0; grp < groups; ++grp) {
    acc_t n = 0, m = 0, m2 = 0;
    const int64_t c0 = norm == Norm::Layer ? 0 : grp, c1 = norm == Norm::Layer ? g.Cout : grp + 1;
    for (int64_t c = c0; c < c1; ++c) {
      for (int64_t t = 0; t < p.ntiles; ++t) {
        const acc_t nb = acc_t(p.end(t, N) - p.begin(t, N));
        const int64_t i = (b * p.ntiles + t) * g.Cout + c;
        const acc_t delta = tile_mean[i] - m, tot = n + nb;
        m += delta * nb / tot;
        m2 += tile_m2[i] + delta * delta * n * nb / tot;
        n = tot;
      }
    }
    mean[b * groups + grp] = T(m);
    rstd[b * groups + grp] = T(1.0 / std::sqrt(m2 / n + eps));
  }
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> dynamic_conv_norm_act_cpu(
    const at::Tensor& x_in, const at::Tensor& weight_in, const at::Tensor& scale_in,
    const at::Tensor& shift_in, c10::IntArrayRef stride, c10::IntArrayRef padding,
    c10::IntArrayRef dilation, c10::string_view norm_s, c10::string_view act_s, double eps) {
  const auto [g, norm, act] = check_norm_act_forward(x_in, weight_in, scale_in, shift_in, stride,
                                                     padding, dilation, norm_s, act_s, eps);
  auto [out, y, mean, rstd] = new_norm_act_outputs(g, norm, x_in);
  if (g.B == 0) return {out, y, mean, rstd};
  const at::Tensor x = x_in.contiguous(), w = weight_in.contiguous();
  const at::Tensor scale = scale_in.contiguous(), shift = shift_in.contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dynamic_conv_norm_act_cpu", [&] {
    using T = scalar_t;
    const Conv<T> conv(g);
    const TilePlan& p = conv.tiles;
    const int64_t N = g.N(), Cout = g.Cout;
    T* yp = y.mutable_data_ptr<T>();
    const bool stats = norm != Norm::None;
    std::vector<acc_t> tile_mean(stats ? p.items * Cout : 0), tile_m2(stats ? p.items * Cout : 0);
    T* mp = mean.mutable_data_ptr<T>();
    T* rp = rstd.mutable_data_ptr<T>();
    const T* sc = scale.const_data_ptr<T>();
    const T* sh = shift.const_data_ptr<T>();
    T* op_ = out.mutable_data_ptr<T>();
    // out = act((y - mean) * rstd * scale + shift) = act(y * a + o) for channel rows [i0, i1) of B * Cout.
    const auto apply_rows = [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t s = norm == Norm::Layer ? i / Cout : i;
        const T a = stats ? rp[s] * sc[i] : sc[i];
        const T o = stats ? sh[i] - mp[s] * a : sh[i];
        with_activation(act, [&](auto A) { apply_row<A.value>(yp + i * N, op_ + i * N, N, a, o); });
      }
    };
    // Where one thread computes all tiles of a sample in order, the sample is
    // finished right after its last tile, while its conv output is still in cache.
    const bool inline_apply = conv.whole_samples_in_order();
    conv.forward(x.const_data_ptr<T>(), w.const_data_ptr<T>(), yp,
                    [&](int64_t b, int64_t t, int64_t n0, int64_t n1) {
                      if (stats) {
                        for (int64_t c = 0; c < Cout; ++c) {
                          const int64_t k = (b * p.ntiles + t) * Cout + c;
                          row_stats(yp + (b * Cout + c) * N + n0, n1 - n0, tile_mean[k], tile_m2[k]);
                        }
                      }
                      if (!inline_apply || t != p.ntiles - 1) return;
                      if (stats) finish_sample_stats<T>(g, p, norm, eps, tile_mean, tile_m2, b, mp, rp);
                      apply_rows(b * Cout, (b + 1) * Cout);
                    });
    if (inline_apply) return;
    if (stats) {
      at::parallel_for(0, g.B, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
          finish_sample_stats<T>(g, p, norm, eps, tile_mean, tile_m2, b, mp, rp);
      });
    }
    at::parallel_for(0, g.B * Cout, 1, apply_rows);
  });
  return {out, y, mean, rstd};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> dynamic_conv_norm_act_backward_cpu(
    const at::Tensor& grad_out, const at::Tensor& x_in, const at::Tensor& weight_in,
    const at::Tensor& scale_in, const at::Tensor& shift_in, const at::Tensor& y_in,
    const at::Tensor& mean_in, const at::Tensor& rstd_in, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation, c10::string_view norm_s,
    c10::string_view act_s, std::array<bool, 4> mask) {
  const auto [g, norm, act] = check_norm_act_backward(grad_out, x_in, weight_in, scale_in, shift_in, y_in,
                                                      mean_in, rstd_in, stride, padding, dilation,
                                                      norm_s, act_s);
  auto [dx, dw, dscale, dshift] = new_norm_act_grads(g, x_in, mask);
  if (g.B == 0 || !(mask[0] || mask[1] || mask[2] || mask[3])) return {dx, dw, dscale, dshift};
  const at::Tensor x = x_in.contiguous(), w = weight_in.contiguous(), y = y_in.contiguous();
  const at::Tensor scale = scale_in.contiguous(), shift = shift_in.contiguous();
  const at::Tensor gout = grad_out.contiguous();
  const bool need_conv = mask[0] || mask[1];
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dynamic_conv_norm_act_backward_cpu", [&] {
    using T = scalar_t;
    const int64_t N = g.N(), Cout = g.Cout;
    const bool stats = norm != Norm::None;
    const T* yp = y.const_data_ptr<T>();
    const T* gp = gout.const_data_ptr<T>();
    const T* mp = mean_in.contiguous().const_data_ptr<T>();
    const T* rp = rstd_in.contiguous().const_data_ptr<T>();
    const T* sc = scale.const_data_ptr<T>();
    const T* sh = shift.const_data_ptr<T>();
    // Per sample b, with dz = grad_out * act'(activation input): sum(dz) (= dshift)
    // and sum(dz * xhat) (= dscale) per channel, and from them the norm backward's
    // coefficients: dy = k1 * dz + k2 * y + k3 per (b, c), from
    // dy = rstd * (scale * dz - mean(dxhat) - xhat * mean(dxhat * xhat)).
    std::vector<acc_t> s1(g.B * Cout), s2(g.B * Cout);
    std::vector<T> k1(g.B * Cout), k2(g.B * Cout), k3(g.B * Cout);
    T* dsc = mask[2] ? dscale.mutable_data_ptr<T>() : nullptr;
    T* dsh = mask[3] ? dshift.mutable_data_ptr<T>() : nullptr;
    const auto sample_sums = [&](int64_t b) {
      for (int64_t i = b * Cout; i < (b + 1) * Cout; ++i) {
        const int64_t s = norm == Norm::Layer ? b : i;
        const T m = stats ? mp[s] : T(0), r = stats ? rp[s] : T(1);
        const T a = r * sc[i], o = sh[i] - m * a;
        acc_t a1 = 0, a2 = 0;
        with_activation(act, [&](auto A) { dz_sums<A.value>(gp + i * N, yp + i * N, N, a, o, m, r, a1, a2); });
        s1[i] = a1, s2[i] = a2;
        if (dsc) dsc[i] = T(a2);
        if (dsh) dsh[i] = T(a1);
      }
      acc_t t1 = 0, t2 = 0;  // layer: sums over the channels of the sample
      if (norm == Norm::Layer) {
        for (int64_t c = 0; c < Cout; ++c) {
          t1 += acc_t(sc[b * Cout + c]) * s1[b * Cout + c];
          t2 += acc_t(sc[b * Cout + c]) * s2[b * Cout + c];
        }
      }
      for (int64_t c = 0; c < Cout; ++c) {
        const int64_t i = b * Cout + c;
        if (!stats) {
          k1[i] = sc[i], k2[i] = 0, k3[i] = 0;
          continue;
        }
        const int64_t s = norm == Norm::Layer ? b : i;
        const acc_t M = norm == Norm::Layer ? acc_t(Cout * N) : acc_t(N);
        const acc_t m1 = (norm == Norm::Layer ? t1 : acc_t(sc[i]) * s1[i]) / M;
        const acc_t m2 = (norm == Norm::Layer ? t2 : acc_t(sc[i]) * s2[i]) / M;
        const acc_t r = rp[s], m = mp[s];
        // rstd * (scale*dz - m1 - (y - mean) * rstd * m2)
        k1[i] = T(r * sc[i]);
        k2[i] = T(-r * r * m2);
        k3[i] = T(r * (-m1 + m * r * m2));
      }
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
    // The conv-output gradient, formed one span at a time as the conv reads it.
    const Conv<T> conv(g);
    if (conv.grads_need_zeros()) {
      if (mask[0]) dx.zero_();
      if (mask[1]) dw.zero_();
    }
    conv.backward(x.const_data_ptr<T>(), w.const_data_ptr<T>(),
                  mask[0] ? dx.mutable_data_ptr<T>() : nullptr,
                  mask[1] ? dw.mutable_data_ptr<T>() : nullptr,
                  [&](int64_t b, int64_t c, int64_t n0, int64_t n1, T* dst) {
                    std::call_once(summed[b], sample_sums, b);
                    const int64_t i = b * Cout + c;
                    const int64_t s = norm == Norm::Layer ? b : i;
                    const T m = stats ? mp[s] : T(0), r = stats ? rp[s] : T(1);
                    const T a = r * sc[i], o = sh[i] - m * a;
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

}  // namespace

TORCH_LIBRARY_IMPL(dyconv, CPU, m) {
  m.impl("dynamic_conv_norm_act", &dynamic_conv_norm_act_cpu);
  m.impl("dynamic_conv_norm_act_backward", &dynamic_conv_norm_act_backward_cpu);
}

}  // namespace dyconv::cpu
