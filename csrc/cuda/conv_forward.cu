// Forward launchers of both ops (see launchers.h).
//
// dynamic_conv2d: one implicit-GEMM kernel (bias in the epilogue).
// dynamic_conv_norm_act: the conv GEMM whose epilogue writes conv_out and the
// per-tile statistics -> stats_finish_kernel (mean, rstd) -> norm_act_kernel
// (out). With norm "none" the conv epilogue writes out directly (one kernel).
#include "cuda/conv_kernels.cuh"
#include "cuda/launchers.h"
#include "cuda/norm_kernels.cuh"

namespace dyconv::cuda {

cudaError_t conv2d_forward(DType dtype, const ConvDims& d, const void* x, const void* weight,
                           const void* bias, void* y, cudaStream_t stream) {
  return dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const dim3 grid(forward_pixel_tiles(d), ceil_div(d.Cout, BM), d.B);
    DYCONV_LAUNCH(conv_forward_kernel<T>, grid, dim3(kThreads), stream, d,
                  static_cast<const T*>(x), static_cast<const T*>(weight),
                  static_cast<const T*>(bias), static_cast<T*>(y), (const T*)nullptr,
                  (const T*)nullptr, (T*)nullptr, ActKind::None, (acc_of<T>*)nullptr);
    return cudaSuccess;
  });
}

size_t conv_norm_act_forward_workspace_bytes(DType dtype, const ConvDims& d, NormKind norm) {
  if (norm == NormKind::None) return 0;
  return dispatch_size(dtype, [&](auto tag) {
    return size_t((long long)d.B * forward_pixel_tiles(d) * d.Cout * 2) *
           sizeof(acc_of<typename decltype(tag)::type>);
  });
}

cudaError_t conv_norm_act_forward(DType dtype, const ConvDims& d, const void* x,
                                  const void* weight, const void* scale, const void* shift,
                                  NormKind norm, ActKind act, double eps, void* out,
                                  void* conv_out, void* mean, void* rstd, void* workspace,
                                  cudaStream_t stream) {
  return dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = acc_of<T>;
    const T* sc = static_cast<const T*>(scale);
    const T* sh = static_cast<const T*>(shift);
    T* y = static_cast<T*>(conv_out);
    T* o = static_cast<T*>(out);
    const bool stats = norm != NormKind::None;
    Acc* partial = stats ? static_cast<Acc*>(workspace) : nullptr;
    const int tiles = forward_pixel_tiles(d), N = int(conv_n(d));
    const dim3 grid(tiles, ceil_div(d.Cout, BM), d.B);
    DYCONV_LAUNCH(conv_forward_kernel<T>, grid, dim3(kThreads), stream, d,
                  static_cast<const T*>(x), static_cast<const T*>(weight), (const T*)nullptr, y,
                  sc, sh, stats ? (T*)nullptr : o, act, partial);
    if (!stats) return cudaSuccess;
    const int G = norm == NormKind::Layer ? 1 : d.Cout;
    T* m = static_cast<T*>(mean);
    T* r = static_cast<T*>(rstd);
    DYCONV_LAUNCH(stats_finish_kernel<T>, dim3(G, d.B), dim3(kThreads), stream, d.Cout, N, tiles,
                  BN, norm, eps, (const Acc*)partial, m, r);
    const long long size = (long long)d.B * d.Cout * N;
    DYCONV_LAUNCH(norm_act_kernel<T>, dim3(elementwise_blocks(size)), dim3(kThreads), stream,
                  size, d.Cout, N, norm, act, (const T*)y, sc, sh, (const T*)m, (const T*)r, o);
    return cudaSuccess;
  });
}

}  // namespace dyconv::cuda
