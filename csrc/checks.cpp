#include "checks.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace dyconv {

namespace {

// x and weight: ranks, dtypes, device, batch. `layout` names weight's dimensions.
void check_pair(const char* op, const at::Tensor& x, const at::Tensor& weight, const char* layout) {
  TORCH_CHECK(x.dim() == 4, op, ": x must be a 4-D tensor (B, Cin, H, W), expected 4 dims, got ",
              x.dim());
  TORCH_CHECK(weight.dim() == 5, op, ": weight must be a 5-D tensor ", layout,
              ", expected 5 dims, got ", weight.dim());
  const at::ScalarType t = x.scalar_type();
  TORCH_CHECK(t == at::kFloat || t == at::kDouble || t == at::kBFloat16 || t == at::kHalf, op,
              ": x must have a floating point dtype, expected float32, float64, bfloat16 or "
              "float16, got ", t);
  TORCH_CHECK(weight.scalar_type() == x.scalar_type(), op,
              ": weight must have the dtype of x, expected ", x.scalar_type(), ", got ",
              weight.scalar_type());
  TORCH_CHECK(weight.device() == x.device(), op, ": weight must be on the device of x, expected ",
              x.device(), ", got ", weight.device());
  TORCH_CHECK(weight.size(0) == x.size(0), op,
              ": weight must have one filter bank per sample, expected weight.shape[0] == ", x.size(0),
              " (the batch of x), got ", weight.size(0));
}

void check_groups(const char* op, int64_t groups, int64_t Cin, int64_t Cout, const char* cout_name) {
  TORCH_CHECK(groups >= 1, op, ": groups must be >= 1, got ", groups);
  TORCH_CHECK(Cin % groups == 0, op,
              ": input channels must be divisible by groups, expected Cin % groups == 0, got Cin=",
              Cin, ", groups=", groups);
  TORCH_CHECK(Cout % groups == 0, op,
              ": output channels must be divisible by groups, expected ", cout_name,
              " % groups == 0, got ", cout_name, "=", Cout, ", groups=", groups);
}

// stride, padding, dilation and the output size of the convolution of g.
void check_window(const char* op, ConvGeometry& g, c10::IntArrayRef stride,
                  c10::IntArrayRef padding, c10::IntArrayRef dilation) {
  TORCH_CHECK(g.Cout >= 1 && g.Cin >= 1 && g.kH >= 1 && g.kW >= 1, op,
              ": channels and kernel sizes must be >= 1, got Cin=", g.Cin, ", Cout=", g.Cout,
              ", kernel=(", g.kH, ", ", g.kW, ")");
  TORCH_CHECK(stride.size() == 2 && stride[0] >= 1 && stride[1] >= 1, op,
              ": stride must be two values >= 1, got ", stride);
  TORCH_CHECK(dilation.size() == 2 && dilation[0] >= 1 && dilation[1] >= 1, op,
              ": dilation must be two values >= 1, got ", dilation);
  TORCH_CHECK(padding.size() == 2 && padding[0] >= 0 && padding[1] >= 0, op,
              ": padding must be two values >= 0, got ", padding);
  g.sH = stride[0], g.sW = stride[1], g.pH = padding[0], g.pW = padding[1];
  g.dH = dilation[0], g.dW = dilation[1];
}

}  // namespace

ConvGeometry check_conv_inputs(
    const char* op, const at::Tensor& x, const at::Tensor& weight,
    const std::optional<at::Tensor>& bias, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups) {
  check_pair(op, x, weight, groups == 1 ? "(B, Cout, Cin, kH, kW)" : "(B, Cout, Cin / groups, kH, kW)");
  ConvGeometry g{};
  g.B = x.size(0), g.Cin = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.Cout = weight.size(1), g.kH = weight.size(3), g.kW = weight.size(4);
  check_groups(op, groups, g.Cin, g.Cout, "weight.shape[1]");
  g.groups = groups;
  if (groups == 1) {
    TORCH_CHECK(weight.size(2) == g.Cin, op,
                ": weight input channels must match x, expected weight.shape[2] == ", g.Cin,
                ", got ", weight.size(2));
  } else {
    TORCH_CHECK(weight.size(2) == g.Cin / groups, op,
                ": weight input channels must be Cin / groups, expected weight.shape[2] == ", g.Cin,
                " / ", groups, " = ", g.Cin / groups, ", got ", weight.size(2));
  }
  check_window(op, g, stride, padding, dilation);
  if (bias.has_value() && bias->defined()) {
    check_like(op, "bias", *bias, x, {g.B, g.Cout});
  }
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

ConvGeometry check_conv_transpose_inputs(
    const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef output_padding,
    c10::IntArrayRef dilation, int64_t groups) {
  const char* op = "dynamic_conv_transpose2d";
  check_pair(op, x, weight, "(B, Cin, Cout / groups, kH, kW)");
  // The adjoint convolution: its output is x, its input the transposed conv's output.
  ConvGeometry g{};
  g.B = x.size(0), g.Cout = x.size(1), g.Hout = x.size(2), g.Wout = x.size(3);
  g.Cin = weight.size(2) * groups, g.kH = weight.size(3), g.kW = weight.size(4);
  TORCH_CHECK(weight.size(1) == g.Cout, op,
              ": weight input channels must match x, expected weight.shape[1] == ", g.Cout,
              ", got ", weight.size(1));
  check_groups(op, groups, g.Cout, g.Cin, "Cout");
  g.groups = groups;
  check_window(op, g, stride, padding, dilation);
  TORCH_CHECK(output_padding.size() == 2 && output_padding[0] >= 0 && output_padding[1] >= 0 &&
                  output_padding[0] < g.sH && output_padding[1] < g.sW,
              op, ": output_padding must be two values >= 0 and smaller than stride, expected < ",
              stride, ", got ", output_padding);
  g.H = (g.Hout - 1) * g.sH - 2 * g.pH + g.dH * (g.kH - 1) + output_padding[0] + 1;
  g.W = (g.Wout - 1) * g.sW - 2 * g.pW + g.dW * (g.kW - 1) + output_padding[1] + 1;
  TORCH_CHECK(g.H >= 1 && g.W >= 1, op, ": output size must be at least 1x1, got ", g.H, "x", g.W,
              " for input ", g.Hout, "x", g.Wout, ", kernel ", g.kH, "x", g.kW, ", padding ",
              padding, ", output_padding ", output_padding, ", dilation ", dilation, ", stride ",
              stride);
  if (bias.has_value() && bias->defined()) {
    check_like(op, "bias", *bias, x, {g.B, g.Cin});
  }
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
                                 c10::IntArrayRef padding, c10::IntArrayRef dilation,
                                 int64_t groups) {
  const char* op = "dynamic_conv2d_backward";
  const ConvGeometry g =
      check_conv_inputs(op, x, weight, std::nullopt, stride, padding, dilation, groups);
  check_like(op, "grad_out", grad_out, x, {g.B, g.Cout, g.Hout, g.Wout});
  return g;
}

NormActProblem check_norm_act_forward(
    const at::Tensor& x, const at::Tensor& weight, const at::Tensor& scale, const at::Tensor& shift,
    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
    std::string_view norm, std::string_view activation, double eps, int64_t groups) {
  const char* op = "dynamic_conv_norm_act";
  const ConvGeometry g =
      check_conv_inputs(op, x, weight, std::nullopt, stride, padding, dilation, groups);
  const auto [n, a] = check_norm_act_inputs(op, g, x, scale, shift, norm, activation);
  TORCH_CHECK(eps > 0, op, ": eps must be > 0, got ", eps);
  return {g, n, a};
}

NormActProblem check_norm_act_backward(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& weight,
    const at::Tensor& scale, const at::Tensor& shift, const at::Tensor& conv_out,
    const at::Tensor& mean, const at::Tensor& rstd, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation, std::string_view norm,
    std::string_view activation, int64_t groups) {
  const char* op = "dynamic_conv_norm_act_backward";
  const ConvGeometry g =
      check_conv_inputs(op, x, weight, std::nullopt, stride, padding, dilation, groups);
  const auto [n, a] = check_norm_act_inputs(op, g, x, scale, shift, norm, activation);
  check_norm_act_saved(op, g, n, x, grad_out, conv_out, mean, rstd);
  return {g, n, a};
}

}  // namespace dyconv
