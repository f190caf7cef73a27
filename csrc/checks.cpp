#include "checks.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace dyconv {

ConvGeometry check_conv_inputs(
    const char* op, const at::Tensor& x, const at::Tensor& weight,
    const std::optional<at::Tensor>& bias, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation) {
  TORCH_CHECK(x.dim() == 4, op, ": x must be a 4-D tensor (B, Cin, H, W), expected 4 dims, got ",
              x.dim());
  TORCH_CHECK(weight.dim() == 5, op,
              ": weight must be a 5-D tensor (B, Cout, Cin, kH, kW), expected 5 dims, got ",
              weight.dim());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), op,
              ": x must have a floating point dtype, expected float32 or float64, got ",
              x.scalar_type());
  TORCH_CHECK(weight.scalar_type() == x.scalar_type(), op,
              ": weight must have the dtype of x, expected ", x.scalar_type(), ", got ",
              weight.scalar_type());
  TORCH_CHECK(weight.device() == x.device(), op, ": weight must be on the device of x, expected ",
              x.device(), ", got ", weight.device());
  ConvGeometry g{};
  g.B = x.size(0), g.Cin = x.size(1), g.H = x.size(2), g.W = x.size(3);
  TORCH_CHECK(weight.size(0) == g.B, op,
              ": weight must have one filter bank per sample, expected weight.shape[0] == ", g.B,
              " (the batch of x), got ", weight.size(0));
  TORCH_CHECK(weight.size(2) == g.Cin, op,
              ": weight input channels must match x, expected weight.shape[2] == ", g.Cin,
              ", got ", weight.size(2));
  g.Cout = weight.size(1), g.kH = weight.size(3), g.kW = weight.size(4);
  TORCH_CHECK(g.Cout >= 1 && g.Cin >= 1 && g.kH >= 1 && g.kW >= 1, op,
              ": channels and kernel sizes must be >= 1, got Cin=", g.Cin, ", Cout=", g.Cout,
              ", kernel=(", g.kH, ", ", g.kW, ")");
  if (bias.has_value() && bias->defined()) {
    check_like(op, "bias", *bias, x, {g.B, g.Cout});
  }
  TORCH_CHECK(stride.size() == 2 && stride[0] >= 1 && stride[1] >= 1, op,
              ": stride must be two values >= 1, got ", stride);
  TORCH_CHECK(dilation.size() == 2 && dilation[0] >= 1 && dilation[1] >= 1, op,
              ": dilation must be two values >= 1, got ", dilation);
  TORCH_CHECK(padding.size() == 2 && padding[0] >= 0 && padding[1] >= 0, op,
              ": padding must be two values >= 0, got ", padding);
  g.sH = stride[0], g.sW = stride[1], g.pH = padding[0], g.pW = padding[1];
  g.dH = dilation[0], g.dW = dilation[1];
  g.Hout = (g.H + 2 * g.pH - g.dH * (g.kH - 1) - 1) / g.sH + 1;
  g.Wout = (g.W + 2 * g.pW - g.dW * (g.kW - 1) - 1) / g.sW + 1;
  // C++ division truncates toward zero: a negative numerator above -sH still gives 1.
  const bool fits = g.H + 2 * g.pH - g.dH * (g.kH - 1) - 1 >= 0 &&
                    g.W + 2 * g.pW - g.dW * (g.kW - 1) - 1 >= 0;
  TORCH_CHECK(fits, op, ": output size must be at least 1x1, got ",
              (g.H + 2 * g.pH - g.dH * (g.kH - 1) - 1 < 0 ? 0 : g.Hout), "x",
              (g.W + 2 * g.pW - g.dW * (g.kW - 1) - 1 < 0 ? 0 : g.Wout), " for input ", g.H, "x",
              g.W, ", kernel ", g.kH, "x", g.kW, ", padding ", padding, ", dilation ", dilation,
              ", stride ", stride);
  return g;
}

void check_like(const char* op, const char* name, const at::Tensor& t, const at::Tensor& x,
                c10::IntArrayRef shape) {
  TORCH_CHECK(t.scalar_type() == x.scalar_type(), op, ": ", name,
              " must have the dtype of x, expected ", x.scalar_type(), ", got ", t.scalar_type());
  TORCH_CHECK(t.device() == x.device(), op, ": ", name, " must be on the device of x, expected ",
              x.device(), ", got ", t.device());
  TORCH_CHECK(t.sizes() == shape, op, ": ", name, " must have shape ", shape, ", got ",
              t.sizes());
}

namespace {

std::pair<Norm, Activation> check_norm_act_inputs(
    const char* op, const ConvGeometry& g, const at::Tensor& x, const at::Tensor& scale,
    const at::Tensor& shift, std::string_view norm, std::string_view activation) {
  check_like(op, "scale", scale, x, {g.B, g.Cout});
  check_like(op, "shift", shift, x, {g.B, g.Cout});
  Norm n;
  if (norm == "layer") n = Norm::Layer;
  else if (norm == "instance") n = Norm::Instance;
  else if (norm == "none") n = Norm::None;
  else TORCH_CHECK(false, op, ": norm must be one of layer, instance, none, got '", norm, "'");
  Activation a;
  if (activation == "relu") a = Activation::Relu;
  else if (activation == "sigmoid") a = Activation::Sigmoid;
  else if (activation == "none") a = Activation::None;
  else TORCH_CHECK(false, op, ": activation must be one of relu, sigmoid, none, got '", activation, "'");
  return {n, a};
}

void check_norm_act_saved(const char* op, const ConvGeometry& g, Norm norm, const at::Tensor& x,
                          const at::Tensor& grad_out, const at::Tensor& conv_out,
                          const at::Tensor& mean, const at::Tensor& rstd) {
  const int64_t G = stat_groups(norm, g.Cout);
  check_like(op, "grad_out", grad_out, x, {g.B, g.Cout, g.Hout, g.Wout});
  check_like(op, "conv_out", conv_out, x, {g.B, g.Cout, g.Hout, g.Wout});
  check_like(op, "mean", mean, x, {g.B, G});
  check_like(op, "rstd", rstd, x, {g.B, G});
}

}  // namespace

int64_t stat_groups(Norm norm, int64_t Cout) {
  return norm == Norm::Layer ? 1 : norm == Norm::Instance ? Cout : 0;
}

ConvGeometry check_conv_backward(const at::Tensor& grad_out, const at::Tensor& x,
                                 const at::Tensor& weight, c10::IntArrayRef stride,
                                 c10::IntArrayRef padding, c10::IntArrayRef dilation) {
  const char* op = "dynamic_conv2d_backward";
  const ConvGeometry g = check_conv_inputs(op, x, weight, std::nullopt, stride, padding, dilation);
  check_like(op, "grad_out", grad_out, x, {g.B, g.Cout, g.Hout, g.Wout});
  return g;
}

NormActProblem check_norm_act_forward(
    const at::Tensor& x, const at::Tensor& weight, const at::Tensor& scale, const at::Tensor& shift,
    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
    std::string_view norm, std::string_view activation, double eps) {
  const char* op = "dynamic_conv_norm_act";
  const ConvGeometry g = check_conv_inputs(op, x, weight, std::nullopt, stride, padding, dilation);
  const auto [n, a] = check_norm_act_inputs(op, g, x, scale, shift, norm, activation);
  TORCH_CHECK(eps > 0, op, ": eps must be > 0, got ", eps);
  return {g, n, a};
}

NormActProblem check_norm_act_backward(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& weight,
    const at::Tensor& scale, const at::Tensor& shift, const at::Tensor& conv_out,
    const at::Tensor& mean, const at::Tensor& rstd, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation, std::string_view norm,
    std::string_view activation) {
  const char* op = "dynamic_conv_norm_act_backward";
  const ConvGeometry g = check_conv_inputs(op, x, weight, std::nullopt, stride, padding, dilation);
  const auto [n, a] = check_norm_act_inputs(op, g, x, scale, shift, norm, activation);
  check_norm_act_saved(op, g, n, x, grad_out, conv_out, mean, rstd);
  return {g, n, a};
}

}  // namespace dyconv
