// CUDA kernels of the dyconv ops (channel groups included, depthwise on direct
// kernels; the transposed op through the conv's dgrad): input checks (shared
// with the CPU kernels, csrc/checks.h), output allocation, device guard and the
// launch on torch's current stream. The kernels themselves are torch-free
// (csrc/cuda/launchers.h) and write NCHW; the output and the input gradient are
// returned in x's memory format (in_format_of, as on CPU: channels_last in,
// channels_last out). Compiled only in CUDA builds (setup.py).
//
// Determinism: every pass reduces in a fixed order (block tree sums, the wgrad
// split partials summed in split order; no atomics), so the same inputs give
// bitwise the same results and nothing here calls alertNotDeterministic. A pass
// that starts using atomics must call
// at::globalContext().alertNotDeterministic("dyconv::<op> CUDA <pass>") before
// its launch (tests/test_ops_determinism.py checks the sources for atomics).
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <limits>

#include "checks.h"
#include "outputs.h"
#include "cuda/launchers.h"

namespace dyconv::cuda {
namespace {

DType dtype_of(const char* op, const at::Tensor& x) {
  switch (x.scalar_type()) {
    case at::kFloat: return DType::Float32;
    case at::kDouble: return DType::Float64;
    case at::kHalf: return DType::Float16;
    case at::kBFloat16: return DType::BFloat16;
    default:
      TORCH_CHECK(false, op, ": CUDA kernels support float32, float64, float16 and bfloat16, got ",
                  x.scalar_type());
  }
}

NormKind norm_kind(Norm n) {
  return n == Norm::Layer ? NormKind::Layer : n == Norm::Instance ? NormKind::Instance : NormKind::None;
}

ActKind act_kind(Activation a) {
  return a == Activation::Relu ? ActKind::Relu
                               : a == Activation::Sigmoid ? ActKind::Sigmoid : ActKind::None;
}

// The launcher sizes (int) of a checked geometry, within the kernels' limits.
ConvDims dims_of(const char* op, const ConvGeometry& g, const at::Tensor& x) {
  TORCH_CHECK(x.is_cuda(), op, ": x must be a CUDA tensor for the CUDA kernels, got ", x.device());
  constexpr int64_t int_max = std::numeric_limits<int>::max();
  TORCH_CHECK(g.B <= 65535 && g.Cout <= 65535, op,
              ": the CUDA kernels support batch and Cout up to 65535, got B=", g.B, ", Cout=",
              g.Cout);
  TORCH_CHECK(g.Cin * g.H * g.W < int_max && g.Cout * g.N() < int_max && g.Cout * g.K() < int_max &&
                  g.B * g.Cout < int_max,
              op, ": every per-sample tensor must have fewer than 2^31 elements, got x[b] ",
              g.Cin * g.H * g.W, ", out[b] ", g.Cout * g.N(), ", weight[b] ", g.Cout * g.K());
  const ConvDims d{int(g.B),  int(g.Cin), int(g.H),  int(g.W),    int(g.Cout),
                   int(g.kH), int(g.kW),  int(g.sH), int(g.sW),   int(g.pH),
                   int(g.pW), int(g.dH),  int(g.dW), int(g.Hout), int(g.Wout),
                   int(g.groups)};
  // The GEMM kernels run each (sample, group) as a sample of the block grid (gridDim.z);
  // the depthwise kernels have no such limit.
  TORCH_CHECK(depthwise(d) || g.B * g.groups <= 65535, op,
              ": the CUDA kernels support batch * groups up to 65535 unless depthwise (groups == Cin), "
              "got B * groups = ", g.B, " * ", g.groups, " = ", g.B * g.groups);
  return d;
}

void* ptr_or_null(at::Tensor& t, bool wanted) { return wanted ? t.mutable_data_ptr() : nullptr; }

at::Tensor workspace(const at::Tensor& x, size_t bytes) {
  return at::empty({int64_t(bytes)}, x.options().dtype(at::kByte));
}

at::Tensor dynamic_conv2d_cuda(const at::Tensor& x_in, const at::Tensor& weight_in,
                               const std::optional<at::Tensor>& bias_in, c10::IntArrayRef stride,
                               c10::IntArrayRef padding, c10::IntArrayRef dilation, int64_t groups) {
  const char* op = "dynamic_conv2d";
  const ConvGeometry g =
      check_conv_inputs(op, x_in, weight_in, bias_in, stride, padding, dilation, groups);
  const ConvDims d = dims_of(op, g, x_in);
  const DType dt = dtype_of(op, x_in);
  const c10::cuda::CUDAGuard guard(x_in.device());
  at::Tensor y = new_output(x_in, {g.B, g.Cout, g.Hout, g.Wout});
  if (g.B == 0) return y;
  const at::Tensor x = x_in.contiguous(), w = weight_in.contiguous();
  const bool has_bias = bias_in.has_value() && bias_in->defined();
  const at::Tensor bias = has_bias ? bias_in->contiguous() : at::Tensor();
  C10_CUDA_CHECK(conv2d_forward(dt, d, x.const_data_ptr(), w.const_data_ptr(),
                                has_bias ? bias.const_data_ptr() : nullptr, y.mutable_data_ptr(),
                                c10::cuda::getCurrentCUDAStream()));
  return in_format_of(x_in, y);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> dynamic_conv2d_backward_cuda(
    const at::Tensor& grad_out, const at::Tensor& x_in, const at::Tensor& weight_in,
    c10::IntArrayRef stride, c10::IntArrayRef padding, c10::IntArrayRef dilation,
    std::array<bool, 3> mask, int64_t groups) {
  const char* op = "dynamic_conv2d_backward";
  const ConvGeometry g =
      check_conv_backward(grad_out, x_in, weight_in, stride, padding, dilation, groups);
  const ConvDims d = dims_of(op, g, x_in);
  const DType dt = dtype_of(op, x_in);
  const c10::cuda::CUDAGuard guard(x_in.device());
  auto [dx, dw, db] = new_conv_grads(g, x_in, mask);
  if (g.B == 0 || !(mask[0] || mask[1] || mask[2])) return {dx, dw, db};
  const at::Tensor x = x_in.contiguous(), w = weight_in.contiguous(), dy = grad_out.contiguous();
  const at::Tensor ws = workspace(x, conv_backward_workspace_bytes(dt, d));
  C10_CUDA_CHECK(conv2d_backward(dt, d, dy.const_data_ptr(), x.const_data_ptr(), w.const_data_ptr(),
                                 ptr_or_null(dx, mask[0]), ptr_or_null(dw, mask[1]),
                                 ptr_or_null(db, mask[2]), ws.data_ptr(),
                                 c10::cuda::getCurrentCUDAStream()));
  return {in_format_of(x_in, dx), dw, db};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> dynamic_conv_norm_act_cuda(
    const at::Tensor& x_in, const at::Tensor& weight_in, const at::Tensor& scale_in,
    const at::Tensor& shift_in, c10::IntArrayRef stride, c10::IntArrayRef padding,
    c10::IntArrayRef dilation, c10::string_view norm_s, c10::string_view act_s, double eps,
    int64_t groups) {
  const char* op = "dynamic_conv_norm_act";
  const auto [g, norm, act] = check_norm_act_forward(x_in, weight_in, scale_in, shift_in, stride,
                                                     padding, dilation, norm_s, act_s, eps, groups);
  const ConvDims d = dims_of(op, g, x_in);
  const DType dt = dtype_of(op, x_in);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const int64_t G = stat_groups(norm, g.Cout);
  auto [out, y, mean, rstd] = new_norm_act_outputs(g, norm, x_in);
  if (g.B == 0) return {out, y, mean, rstd};
  const at::Tensor x = x_in.contiguous(), w = weight_in.contiguous();
  const at::Tensor scale = scale_in.contiguous(), shift = shift_in.contiguous();
  const at::Tensor ws = workspace(x, conv_norm_act_forward_workspace_bytes(dt, d, norm_kind(norm)));
  C10_CUDA_CHECK(conv_norm_act_forward(
      dt, d, x.const_data_ptr(), w.const_data_ptr(), scale.const_data_ptr(), shift.const_data_ptr(),
      norm_kind(norm), act_kind(act), eps, out.mutable_data_ptr(), y.mutable_data_ptr(),
      G > 0 ? mean.mutable_data_ptr() : nullptr, G > 0 ? rstd.mutable_data_ptr() : nullptr,
      ws.data_ptr(), c10::cuda::getCurrentCUDAStream()));
  return {in_format_of(x_in, out), y, mean, rstd};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> dynamic_conv_norm_act_backward_cuda(
    const at::Tensor& grad_out, const at::Tensor& x_in, const at::Tensor& weight_in,
    const at::Tensor& scale_in, const at::Tensor& shift_in, const at::Tensor& y_in,
    const at::Tensor& mean_in, const at::Tensor& rstd_in, c10::IntArrayRef stride,
    c10::IntArrayRef padding, c10::IntArrayRef dilation, c10::string_view norm_s,
    c10::string_view act_s, std::array<bool, 4> mask, int64_t groups) {
  const char* op = "dynamic_conv_norm_act_backward";
  const auto [g, norm, act] = check_norm_act_backward(grad_out, x_in, weight_in, scale_in, shift_in, y_in,
                                                      mean_in, rstd_in, stride, padding, dilation,
                                                      norm_s, act_s, groups);
  const ConvDims d = dims_of(op, g, x_in);
  const DType dt = dtype_of(op, x_in);
  const c10::cuda::CUDAGuard guard(x_in.device());
  auto [dx, dw, dscale, dshift] = new_norm_act_grads(g, x_in, mask);
  if (g.B == 0 || !(mask[0] || mask[1] || mask[2] || mask[3])) return {dx, dw, dscale, dshift};
  const at::Tensor x = x_in.contiguous(), w = weight_in.contiguous(), y = y_in.contiguous();
  const at::Tensor scale = scale_in.contiguous(), shift = shift_in.contiguous();
  const at::Tensor mean = mean_in.contiguous(), rstd = rstd_in.contiguous();
  const at::Tensor gout = grad_out.contiguous();
  const at::Tensor ws = workspace(x, conv_backward_workspace_bytes(dt, d));
  C10_CUDA_CHECK(conv_norm_act_backward(
      dt, d, gout.const_data_ptr(), x.const_data_ptr(), w.const_data_ptr(), scale.const_data_ptr(),
      shift.const_data_ptr(), y.const_data_ptr(), norm != Norm::None ? mean.const_data_ptr() : nullptr,
      norm != Norm::None ? rstd.const_data_ptr() : nullptr, norm_kind(norm), act_kind(act),
      ptr_or_null(dx, mask[0]), ptr_or_null(dw, mask[1]), ptr_or_null(dscale, mask[2]),
      ptr_or_null(dshift, mask[3]), ws.data_ptr(), c10::cuda::getCurrentCUDAStream()));
  return {in_format_of(x_in, dx), dw, dscale, dshift};
}

at::Tensor dynamic_conv_transpose2d_cuda(const at::Tensor& x_in, const at::Tensor& weight_in,
                                         const std::optional<at::Tensor>& bias_in,
                                         c10::IntArrayRef stride, c10::IntArrayRef padding,
                                         c10::IntArrayRef output_padding, c10::IntArrayRef dilation,
                                         int64_t groups) {
  const char* op = "dynamic_conv_transpose2d";
  // g: the convolution this one transposes (its input is y, its output has x's shape).
  const ConvGeometry g = check_conv_transpose_inputs(x_in, weight_in, bias_in, stride, padding,
                                                     output_padding, dilation, groups);
  const ConvDims d = dims_of(op, g, x_in);
  const DType dt = dtype_of(op, x_in);
  const c10::cuda::CUDAGuard guard(x_in.device());
  at::Tensor y = new_output(x_in, {g.B, g.Cin, g.H, g.W});
  if (g.B == 0) return y;
  const at::Tensor x = x_in.contiguous(), w = weight_in.contiguous();
  const bool has_bias = bias_in.has_value() && bias_in->defined();
  const at::Tensor bias = has_bias ? bias_in->contiguous() : at::Tensor();
  C10_CUDA_CHECK(conv_transpose2d_forward(dt, d, x.const_data_ptr(), w.const_data_ptr(),
                                          has_bias ? bias.const_data_ptr() : nullptr,
                                          y.mutable_data_ptr(), c10::cuda::getCurrentCUDAStream()));
  return in_format_of(x_in, y);
}

}  // namespace

TORCH_LIBRARY_IMPL(dyconv, CUDA, m) {
  m.impl("dynamic_conv2d", &dynamic_conv2d_cuda);
  m.impl("dynamic_conv2d_backward", &dynamic_conv2d_backward_cuda);
  m.impl("dynamic_conv_norm_act", &dynamic_conv_norm_act_cuda);
  m.impl("dynamic_conv_norm_act_backward", &dynamic_conv_norm_act_backward_cuda);
  m.impl("dynamic_conv_transpose2d", &dynamic_conv_transpose2d_cuda);
}

}  // namespace dyconv::cuda
