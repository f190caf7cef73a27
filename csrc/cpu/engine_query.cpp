// dyconv::cpu_engine_for: the CPU engine a call with these shapes runs ("depthwise-lanes": the
// small-map depthwise kernel, cpu/depthwise_lanes.h; "depthwise": the strided depthwise kernel,
// cpu/depthwise_conv.h; "amx-bf16": dynamic_conv2d's bfloat16 kernels on AMX tiles,
// cpu/amx_bf16_conv.h) (and, the
// first time a shape class is seen, the decision itself: cpu/engine_choice.h).
#include <torch/library.h>

#include <string>

#include "checks.h"
#include "cpu/amx_bf16_conv.h"
#include "cpu/conv.h"
#include "cpu/depthwise_conv.h"
#include "cpu/depthwise_lanes.h"

namespace dyconv::cpu {
namespace {

std::string cpu_engine_for(c10::IntArrayRef x_size, c10::IntArrayRef weight_size, c10::IntArrayRef stride,
                           c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups, at::ScalarType dtype) {
  TORCH_CHECK(x_size.size() == 4 && weight_size.size() == 5,
              "cpu_engine_for: expected the sizes of x (B, Cin, H, W) and weight (B, Cout, Cin, kH, kW)");
  TORCH_CHECK(groups >= 1 && x_size[1] % groups == 0 && weight_size[1] % groups == 0 &&
                  weight_size[2] * groups == x_size[1],
              "cpu_engine_for: weight (B, Cout, Cin / groups, kH, kW) does not match x and groups");
  ConvGeometry g{x_size[0], x_size[1], x_size[2], x_size[3], weight_size[1], weight_size[3], weight_size[4],
                 stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], 0, 0};
  g.groups = groups;
  g.Hout = (g.H + 2 * g.pH - g.dH * (g.kH - 1) - 1) / g.sH + 1;
  g.Wout = (g.W + 2 * g.pW - g.dW * (g.kW - 1) - 1) / g.sW + 1;
  TORCH_CHECK(g.Hout > 0 && g.Wout > 0, "cpu_engine_for: empty output");
  if (amx_bf16_applies(g, dtype)) return "amx-bf16";
  if (depthwise_lanes_applies(g)) return "depthwise-lanes";
  if (depthwise_applies(g)) return "depthwise";
  const ConvGeometry f = g.folded();  // what the engines see: groups as samples
  return engine_name(dtype == at::kDouble ? choose_engine<double>(f) : choose_engine<float>(f));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(dyconv, m) {
  m.def("cpu_engine_for(int[] x_size, int[] weight_size, int[2] stride, int[2] padding, int[2] dilation, "
        "int groups, ScalarType dtype) -> str",
        &cpu_engine_for);
}

}  // namespace dyconv::cpu
