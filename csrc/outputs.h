// The output tensors of the ops, allocated one way on CPU and CUDA: uninitialised,
// with x's dtype and device; large CPU outputs advised onto huge pages.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <tuple>

#include "checks.h"

namespace dyconv {

at::Tensor new_output(const at::Tensor& x, c10::IntArrayRef sizes);

// new_output in x's memory format: channels_last where gives_channels_last(x) and sizes are 4-D (the ops'
// output and input gradient follow x, as F.conv2d's do).
at::Tensor new_output_in_format_of(const at::Tensor& x, c10::IntArrayRef sizes);

// A gradient output of a backward op: new_output when wanted, else a fresh
// empty tensor of shape (0,) (the outputs of an op must not alias).
at::Tensor new_grad(bool wanted, const at::Tensor& x, c10::IntArrayRef sizes);

// Whether the ops' output and input gradient for x are channels_last: x is 4-D and PyTorch suggests
// channels_last for it (x.suggest_memory_format(), what F.conv2d follows).
bool gives_channels_last(const at::Tensor& x);

// t (B, C, H, W), written NCHW by the CUDA kernels, in x's memory format (gives_channels_last), at the
// cost of one conversion of t. Anything else (a placeholder of a gradient not asked for) as is. The CPU
// kernels write that format chunk by chunk instead (cpu/converted_chunks.h).
at::Tensor in_format_of(const at::Tensor& x, const at::Tensor& t);

// dynamic_conv_norm_act: out and conv_out (B, Cout, Hout, Wout), mean and rstd (B, stat_groups).
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> new_norm_act_outputs(
    const ConvGeometry& g, Norm norm, const at::Tensor& x);

// dynamic_conv2d_backward: dx, dw, db as asked by mask.
std::tuple<at::Tensor, at::Tensor, at::Tensor> new_conv_grads(
    const ConvGeometry& g, const at::Tensor& x, std::array<bool, 3> mask);

// dynamic_conv_norm_act_backward: dx, dw, dscale, dshift as asked by mask.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> new_norm_act_grads(
    const ConvGeometry& g, const at::Tensor& x, std::array<bool, 4> mask);

}  // namespace dyconv
