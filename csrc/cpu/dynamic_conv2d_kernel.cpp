// CPU kernels of dyconv::dynamic_conv2d and dyconv::dynamic_conv2d_backward.
//
// groups > 1: the engines see each (sample, group) as a sample of its own
// (ConvGeometry::folded(), no copies); depthwise layers (groups == Cin) take
// their own kernels on small maps (cpu/depthwise_lanes.h) and where strided
// (cpu/depthwise_conv.h). bfloat16 runs on AMX tiles where it can (cpu/amx_bf16_conv.h);
// elsewhere bfloat16, float16 and a channels_last x run the NCHW float32 / float64 kernels over
// converted chunks of samples (cpu/converted_chunks.h).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <cstring>

#include "checks.h"
#include "cpu/amx_bf16_conv.h"
#include "cpu/conv.h"
#include "cpu/depthwise_conv.h"
#include "cpu/depthwise_lanes.h"
#include "cpu/converted_chunks.h"
#include "outputs.h"

namespace dyconv::cpu {
namespace {

// The forward in float32 or float64 on checked inputs (bias_in undefined: none).
at::Tensor conv2d_forward(const ConvGeometry& g, const at::Tensor& x_in, const at::Tensor& weight_in,
                          const at::Tensor& bias_in) {
  at::Tensor y = new_output(x_in, {g.B, g.Cout, g.Hout, g.Wout});
  if (g.B == 0) return y;
  const at::Tensor x = x_in.contiguous(), w = weight_in.contiguous();
  const bool has_bias = bias_in.defined();
  const at::Tensor bias = has_bias ? bias_in.contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dynamic_conv2d_cpu", [&] {
    const scalar_t* bp = has_bias ? bias.const_data_ptr<scalar_t>() : nullptr;
    scalar_t* yp = y.mutable_data_ptr<scalar_t>();
    const ConvGeometry f = g.folded();
    if (depthwise_lanes_applies(g)) {
      depthwise_lanes_forward<scalar_t>(f, x.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(), bp, yp);
      return;
    }
    if (depthwise_applies(g)) {
      depthwise_forward<scalar_t>(f, x.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(), bp, yp);
      return;
    }
    const int64_t N = f.N();
    Conv<scalar_t>(f).forward(x.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(), yp,
                           [&](int64_t b, int64_t, int64_t n0, int64_t n1) {
                             if (!bp) return;
                             for (int64_t c = 0; c < f.Cout; ++c) {
                               scalar_t* row = yp + (b * f.Cout + c) * N;
                               const scalar_t v = bp[b * f.Cout + c];
                               for (int64_t n = n0; n < n1; ++n) row[n] += v;
                             }
                           });
  });
  return y;
}

// The backward in float32 or float64 on checked inputs.
std::tuple<at::Tensor, at::Tensor, at::Tensor> conv2d_backward(
    const ConvGeometry& g, const at::Tensor& grad_out, const at::Tensor& x_in, const at::Tensor& weight_in,
    std::array<bool, 3> mask) {
  // Named tensors, not a structured binding: the lambdas below capture them, which clang < 16 refuses.
  at::Tensor dx, dw, db;
  std::tie(dx, dw, db) = new_conv_grads(g, x_in, mask);
  if (mask[2]) at::sum_out(db, grad_out, {2, 3});
  if (g.B == 0 || !(mask[0] || mask[1])) return {dx, dw, db};
  const at::Tensor x = x_in.contiguous(), w = weight_in.contiguous(), dy = grad_out.contiguous();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dynamic_conv2d_backward_cpu", [&] {
    const ConvGeometry f = g.folded();
    const scalar_t* dyp = dy.const_data_ptr<scalar_t>();
    if (depthwise_lanes_applies(g) || depthwise_applies(g)) {
      auto* backward = depthwise_lanes_applies(g) ? &depthwise_lanes_backward<scalar_t> : &depthwise_backward<scalar_t>;
      backward(f, x.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(), dyp,
               mask[0] ? dx.mutable_data_ptr<scalar_t>() : nullptr, mask[1] ? dw.mutable_data_ptr<scalar_t>() : nullptr);
      return;
    }
    const Conv<scalar_t> conv(f);
    const int64_t N = f.N();
    conv.backward(x.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(),
                  mask[0] ? dx.mutable_data_ptr<scalar_t>() : nullptr,
                  mask[1] ? dw.mutable_data_ptr<scalar_t>() : nullptr,
                  [&](int64_t b, int64_t c, int64_t n0, int64_t n1, scalar_t* dst) {
                    std::memcpy(dst, dyp + (b * f.Cout + c) * N + n0, (n1 - n0) * sizeof(scalar_t));
                  });
  });
  return {dx, dw, db};
}

at::Tensor dynamic_conv2d_cpu(const at::Tensor& x, const at::Tensor& weight,
                              const std::optional<at::Tensor>& bias_in, c10::IntArrayRef stride,
                              c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups) {
  const ConvGeometry g =
      check_conv_inputs("dynamic_conv2d", x, weight, bias_in, stride, padding, dilation, groups);
#if defined(DYCONV_AMX_BF16)
  if (amx_bf16_applies(g, x.scalar_type())) return amx_bf16_conv2d(g, x, weight, bias_in.value_or(at::Tensor()));
#endif
  return in_converted_chunks(g, {x, weight, bias_in.value_or(at::Tensor())}, [](const ConvGeometry& c, const std::vector<at::Tensor>& t) {
    return std::vector<at::Tensor>{conv2d_forward(c, t[0], t[1], t[2])};
  })[0];
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> dynamic_conv2d_backward_cpu(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& weight,
    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
    std::array<bool, 3> mask, int64_t groups) {
  const ConvGeometry g = check_conv_backward(grad_out, x, weight, stride, padding, dilation, groups);
#if defined(DYCONV_AMX_BF16)
  if (amx_bf16_applies(g, x.scalar_type())) {
    at::Tensor dx, dw, db;
    std::tie(dx, dw, db) = new_conv_grads(g, x, {false, false, mask[2]});
    if (mask[2]) at::sum_out(db, grad_out, {2, 3});
    if (mask[0]) dx = amx_bf16_conv2d_input_grad(g, grad_out, weight, at::Tensor(), x);
    if (mask[1]) dw = amx_bf16_conv2d_weight_grad(g, grad_out, x);
    return {dx, dw, db};
  }
#endif
  const auto grads = in_converted_chunks(g, {x, grad_out, weight}, [&](const ConvGeometry& c, const std::vector<at::Tensor>& t) {
    const auto [dx, dw, db] = conv2d_backward(c, t[1], t[0], t[2], mask);
    return std::vector<at::Tensor>{dx, dw, db};
  });
  return {grads[0], grads[1], grads[2]};
}

}  // namespace

TORCH_LIBRARY_IMPL(dyconv, CPU, m) {
  m.impl("dynamic_conv2d", &dynamic_conv2d_cpu);
  m.impl("dynamic_conv2d_backward", &dynamic_conv2d_backward_cpu);
}

}  // namespace dyconv::cpu
