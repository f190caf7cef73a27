// Host launchers of the dyconv CUDA kernels: the only interface between the
// kernels (csrc/cuda/*.cu, torch-free) and the torch glue
// (dynamic_conv_glue.cpp) or the CPU emulation (emulation/bindings.cpp).
//
// Conventions: all tensors are contiguous, with the layouts of the ops
// (x (B, Cin, H, W), weight (B, Cout, Cin / groups, kH, kW), per-sample vectors
// (B, Cout), statistics (B, G)); pointers are device pointers of the storage
// dtype; every output is written in full (no zero-fill needed). Optional
// inputs/outputs are nullptr when absent or not requested. Each launcher
// enqueues its kernels on `stream` and returns the first launch error.
// Limits (checked by the caller): B * groups, Cout <= 65535 (B alone when
// depthwise(d)) and every per-sample tensor below 2^31 elements.
#pragma once

#include <cstddef>

#if defined(DYCONV_CUDA_EMULATION)
#include "cuda/emulation/cuda_emulator.h"
#else
#include <cuda_runtime_api.h>
#endif

namespace dyconv::cuda {

enum class DType : int { Float32 = 0, Float64 = 1, Float16 = 2, BFloat16 = 3 };
enum class NormKind : int { Layer = 0, Instance = 1, None = 2 };
enum class ActKind : int { Relu = 0, Sigmoid = 1, None = 2 };

// The sizes of one per-sample convolution (csrc/checks.h ConvGeometry, as int).
struct ConvDims {
  int B, Cin, H, W;
  int Cout, kH, kW;
  int sH, sW, pH, pW, dH, dW;
  int Hout, Wout;
  int groups = 1;  // channel groups, as in F.conv2d
};

// The same convolution with each (sample, group) as a sample of its own
// (csrc/checks.h ConvGeometry::folded: the same memory, read as B * groups
// samples of Cin / groups input and Cout / groups output channels). The GEMM
// kernels see this.
inline ConvDims folded(const ConvDims& d) {
  ConvDims f = d;
  f.B = d.B * d.groups, f.Cin = d.Cin / d.groups, f.Cout = d.Cout / d.groups, f.groups = 1;
  return f;
}

// Depthwise (groups == Cin > 1, any channel multiplier Cout / Cin): the direct
// kernels of depthwise_kernels.cuh instead of the GEMMs.
inline bool depthwise(const ConvDims& d) { return d.groups > 1 && d.groups == d.Cin; }

// dynamic_conv2d: y = conv(x, weight) + bias.
cudaError_t conv2d_forward(DType dtype, const ConvDims& d, const void* x, const void* weight,
                           const void* bias, void* y, cudaStream_t stream);

// Workspace of conv2d_backward and conv_norm_act_backward, in bytes.
size_t conv_backward_workspace_bytes(DType dtype, const ConvDims& d);

// dynamic_conv2d_backward: any of dx, dweight, dbias may be nullptr (skipped).
cudaError_t conv2d_backward(DType dtype, const ConvDims& d, const void* grad_out, const void* x,
                            const void* weight, void* dx, void* dweight, void* dbias,
                            void* workspace, cudaStream_t stream);

// Workspace of conv_norm_act_forward, in bytes.
size_t conv_norm_act_forward_workspace_bytes(DType dtype, const ConvDims& d, NormKind norm);

// dynamic_conv_norm_act: conv_out = conv(x, weight); out = act(norm(conv_out) * scale + shift);
// mean/rstd (B, G) with G = 1 (layer), Cout (instance); unused (may be nullptr) for none.
cudaError_t conv_norm_act_forward(DType dtype, const ConvDims& d, const void* x,
                                  const void* weight, const void* scale, const void* shift,
                                  NormKind norm, ActKind act, double eps, void* out,
                                  void* conv_out, void* mean, void* rstd, void* workspace,
                                  cudaStream_t stream);

// dynamic_conv_norm_act_backward: any of dx, dweight, dscale, dshift may be nullptr.
cudaError_t conv_norm_act_backward(DType dtype, const ConvDims& d, const void* grad_out,
                                   const void* x, const void* weight, const void* scale,
                                   const void* shift, const void* conv_out, const void* mean,
                                   const void* rstd, NormKind norm, ActKind act, void* dx,
                                   void* dweight, void* dscale, void* dshift, void* workspace,
                                   cudaStream_t stream);

// dynamic_conv_transpose2d: y = conv_transpose(x, weight) + bias, the input gradient of the
// convolution d (whose output has x's shape, x (B, Cout, Hout, Wout), and whose input has y's,
// y (B, Cin, H, W); weight (B, Cout, Cin / groups, kH, kW), bias (B, Cin) or nullptr).
// Its gradients are conv2d_forward (for x) and conv2d_backward (for weight).
cudaError_t conv_transpose2d_forward(DType dtype, const ConvDims& d, const void* x,
                                     const void* weight, const void* bias, void* y,
                                     cudaStream_t stream);

}  // namespace dyconv::cuda
