// CPU kernel of dyconv::dynamic_conv_transpose2d.
//
// A transposed convolution is the input gradient of the convolution it
// transposes: y = conv_transpose(x, w) is dx of conv(y', w) with dy := x. So
// this runs the backward input-gradient pass of the engines of cpu/conv.h (or
// of a depthwise kernel) with x as the output gradient; no engine of its own.
// Its gradients are the forward conv (for x) and the conv weight gradient (for
// weight), both ops already (dyconv/_autograd.py). bfloat16 on AMX: cpu/amx_bf16_conv.h; otherwise
// bfloat16, float16 and channels_last: cpu/converted_chunks.h.
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

// In float32 or float64 on checked inputs; g: the convolution this one transposes (its input is
// y, its output has x's shape). bias_in undefined: none.
at::Tensor conv_transpose2d(const ConvGeometry& g, const at::Tensor& x_in, const at::Tensor& weight_in,
                            const at::Tensor& bias_in) {
  at::Tensor y = new_output(x_in, {g.B, g.Cin, g.H, g.W});
  if (g.B == 0) return y;
  const at::Tensor x = x_in.contiguous(), w = weight_in.contiguous();
  const bool has_bias = bias_in.defined();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dynamic_conv_transpose2d_cpu", [&] {
    using T = scalar_t;
    const ConvGeometry f = g.folded();
    const T* xp = x.const_data_ptr<T>();
    T* yp = y.mutable_data_ptr<T>();
    if (depthwise_lanes_applies(g)) {
      depthwise_lanes_backward<T>(f, nullptr, w.const_data_ptr<T>(), xp, yp, nullptr);
    } else if (depthwise_applies(g)) {
      depthwise_backward<T>(f, nullptr, w.const_data_ptr<T>(), xp, yp, nullptr);
    } else {
      const Conv<T> conv(f);
      const int64_t N = f.N();
      // The conv input is only read for a weight gradient: none is asked for here.
      conv.backward(yp, w.const_data_ptr<T>(), yp, nullptr,
                    [&](int64_t b, int64_t c, int64_t n0, int64_t n1, T* dst) {
                      std::memcpy(dst, xp + (b * f.Cout + c) * N + n0, (n1 - n0) * sizeof(T));
                    });
    }
    if (!has_bias) return;
    const at::Tensor bias = bias_in.contiguous();
    const T* bp = bias.const_data_ptr<T>();
    const int64_t plane = g.H * g.W;
    at::parallel_for(0, g.B * g.Cin, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        T* row = yp + i * plane;
        const T v = bp[i];
        for (int64_t n = 0; n < plane; ++n) row[n] += v;
      }
    });
  });
  return y;
}

at::Tensor dynamic_conv_transpose2d_cpu(const at::Tensor& x, const at::Tensor& weight,
                                        const std::optional<at::Tensor>& bias_in,
                                        c10::IntArrayRef stride, c10::IntArrayRef padding,
                                        c10::IntArrayRef output_padding, c10::IntArrayRef dilation,
                                        int64_t groups) {
  const ConvGeometry g = check_conv_transpose_inputs(x, weight, bias_in, stride, padding,
                                                     output_padding, dilation, groups);
#if defined(DYCONV_AMX_BF16)
  // The input gradient of the convolution g, whose output gradient is x.
  if (amx_bf16_applies(g, x.scalar_type()))
    return amx_bf16_conv2d_input_grad(g, x, weight, bias_in.value_or(at::Tensor()), x);
#endif
  return in_converted_chunks(g, {x, weight, bias_in.value_or(at::Tensor())}, [](const ConvGeometry& c, const std::vector<at::Tensor>& t) {
    return std::vector<at::Tensor>{conv_transpose2d(c, t[0], t[1], t[2])};
  })[0];
}

}  // namespace

TORCH_LIBRARY_IMPL(dyconv, CPU, m) {
  m.impl("dynamic_conv_transpose2d", &dynamic_conv_transpose2d_cpu);
}

}  // namespace dyconv::cpu
