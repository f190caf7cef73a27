// Input validation shared by the CPU and CUDA kernels. Messages follow
// "what, expected, got"; dyconv/_checks.py mirrors them for the fake kernels.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/Optional.h>

#include <string_view>

namespace dyconv {

// Sizes of one per-sample convolution problem.
struct ConvGeometry {
  int64_t B, Cin, H, W;           // input
  int64_t Cout, kH, kW;           // filter bank of each sample
  int64_t sH, sW, pH, pW, dH, dW; // stride, padding, dilation
  int64_t Hout, Wout;             // output
  int64_t groups = 1;             // channel groups, as in F.conv2d
  int64_t K() const { return Cin / groups * kH * kW; }  // GEMM reduction length
  int64_t N() const { return Hout * Wout; }              // output pixels per sample
  // The same convolution with each (sample, group) as a sample of its own:
  // x (B, Cin, H, W) is x (B * groups, Cin / groups, H, W) in memory, weight
  // (B, Cout, Cin / groups, kH, kW) is (B * groups, Cout / groups, ...) and the
  // output (B, Cout, ...) is (B * groups, Cout / groups, ...). The engines see this.
  ConvGeometry folded() const {
    ConvGeometry f = *this;
    f.B = B * groups, f.Cin = Cin / groups, f.Cout = Cout / groups, f.groups = 1;
    return f;
  }
};

enum class Norm { Layer, Instance, None };
enum class Activation { Relu, Sigmoid, None };

ConvGeometry check_conv_inputs(
    const char* op, const at::Tensor& x, const at::Tensor& weight,
    const std::optional<at::Tensor>& bias, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups);

// dynamic_conv_transpose2d: x (B, Cin, H, W), weight (B, Cin, Cout / groups, kH, kW). Returns
// the geometry of the convolution it is the adjoint of: that convolution's input is the
// transposed conv's output (B, Cout, Hout', Wout') and its output has x's shape.
ConvGeometry check_conv_transpose_inputs(
    const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef output_padding,
    c10::IntArrayRef dilation, int64_t groups);


// Width of the statistics tensors (mean, rstd) for a norm: 1, Cout or 0.
int64_t stat_groups(Norm norm, int64_t Cout);

// Checks a tensor that must have exactly `shape`, the dtype and device of x.
void check_like(const char* op, const char* name, const at::Tensor& t, const at::Tensor& x,
                c10::IntArrayRef shape);

// All arguments of one op, checked once for the CPU and CUDA kernels alike.
ConvGeometry check_conv_backward(const at::Tensor& grad_out, const at::Tensor& x,
                                 const at::Tensor& weight, c10::IntArrayRef stride,
                                 c10::IntArrayRef padding, c10::IntArrayRef dilation,
                                 int64_t groups);

struct NormActProblem {
  ConvGeometry g;
  Norm norm;
  Activation act;
};

NormActProblem check_norm_act_forward(
    const at::Tensor& x, const at::Tensor& weight, const at::Tensor& scale, const at::Tensor& shift,
    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
    std::string_view norm, std::string_view activation, double eps, int64_t groups);

// The backward also gets grad_out and conv_out (B, Cout, Hout, Wout), mean and rstd (B, stat_groups).
NormActProblem check_norm_act_backward(
    const at::Tensor& grad_out, const at::Tensor& x, const at::Tensor& weight,
    const at::Tensor& scale, const at::Tensor& shift, const at::Tensor& conv_out,
    const at::Tensor& mean, const at::Tensor& rstd, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation, std::string_view norm,
    std::string_view activation, int64_t groups);

}  // namespace dyconv
