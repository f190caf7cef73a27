// C entry points of the emulated CUDA launchers, for ctypes (tests/cuda_emulation.py).
// Built by g++ together with the kernel sources compiled as host C++:
//   g++ -x c++ -DDYCONV_CUDA_EMULATION -Icsrc csrc/cuda/*.cu -x none csrc/cuda/emulation/bindings.cpp
// The stream is ignored; every launch runs to completion before returning.
#include "cuda/launchers.h"

using namespace dyconv::cuda;

extern "C" {

int emu_conv_dims_size() { return int(sizeof(ConvDims)); }

long long emu_conv_backward_workspace_bytes(int dtype, const ConvDims* d) {
  return (long long)conv_backward_workspace_bytes(DType(dtype), *d);
}

long long emu_conv_norm_act_forward_workspace_bytes(int dtype, const ConvDims* d, int norm) {
  return (long long)conv_norm_act_forward_workspace_bytes(DType(dtype), *d, NormKind(norm));
}

int emu_conv2d_forward(int dtype, const ConvDims* d, const void* x, const void* weight,
                       const void* bias, void* y) {
  return conv2d_forward(DType(dtype), *d, x, weight, bias, y, nullptr);
}

int emu_conv2d_backward(int dtype, const ConvDims* d, const void* grad_out, const void* x,
                        const void* weight, void* dx, void* dweight, void* dbias, void* workspace) {
  return conv2d_backward(DType(dtype), *d, grad_out, x, weight, dx, dweight, dbias, workspace,
                         nullptr);
}

int emu_conv_norm_act_forward(int dtype, const ConvDims* d, const void* x, const void* weight,
                              const void* scale, const void* shift, int norm, int act, double eps,
                              void* out, void* conv_out, void* mean, void* rstd, void* workspace) {
  return conv_norm_act_forward(DType(dtype), *d, x, weight, scale, shift, NormKind(norm),
                               ActKind(act), eps, out, conv_out, mean, rstd, workspace, nullptr);
}

int emu_conv_norm_act_backward(int dtype, const ConvDims* d, const void* grad_out, const void* x,
                               const void* weight, const void* scale, const void* shift,
                               const void* conv_out, const void* mean, const void* rstd, int norm,
                               int act, void* dx, void* dweight, void* dscale, void* dshift,
                               void* workspace) {
  return conv_norm_act_backward(DType(dtype), *d, grad_out, x, weight, scale, shift, conv_out,
                                mean, rstd, NormKind(norm), ActKind(act), dx, dweight, dscale,
                                dshift, workspace, nullptr);
}

int emu_conv_transpose2d_forward(int dtype, const ConvDims* d, const void* x, const void* weight,
                                 const void* bias, void* y) {
  return conv_transpose2d_forward(DType(dtype), *d, x, weight, bias, y, nullptr);
}

// Storage conversions of the emulator, checked against torch's.
float emu_half_to_float(unsigned short bits) { return to_float(half_t{bits}); }
unsigned short emu_float_to_half(float f) { return float_to_half(f).bits; }
float emu_bf16_to_float(unsigned short bits) { return to_float(bf16_t{bits}); }
unsigned short emu_float_to_bf16(float f) { return float_to_bf16(f).bits; }

}  // extern "C"
