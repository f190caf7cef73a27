// Launchers of dynamic_conv_norm_act and its backward (see launchers.h).
//
// Forward: conv GEMM whose epilogue writes conv_out and the per-tile
// statistics -> stats_finish_kernel (mean, rstd) -> norm_act_kernel (out).
// With norm "none" the conv epilogue writes out directly (one kernel).
// Backward: row_sums_kernel (dscale, dshift, the norm sums) ->
// norm_coef_kernel -> dgrad/wgrad, which form the conv-output gradient from
// grad_out and conv_out while loading their tiles.
#include "cuda/conv_kernels.cuh"
#include "cuda/launchers.h"
#include "cuda/norm_kernels.cuh"

namespace dyconv::cuda {

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

cudaError_t conv_norm_act_backward(DType dtype, const ConvDims& d, const void* grad_out,
                                   const void* x, const void* weight, const void* scale,
                                   const void* shift, const void* conv_out, const void* mean,
                                   const void* rstd, NormKind norm, ActKind act, void* dx,
                                   void* dweight, void* dscale, void* dshift, void* workspace,
                                   cudaStream_t stream) {
  return dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = acc_of<T>;
    const T* g = static_cast<const T*>(grad_out);
    const T* y = static_cast<const T*>(conv_out);
    const T* sc = static_cast<const T*>(scale);
    const T* sh = static_cast<const T*>(shift);
    const T* m = static_cast<const T*>(mean);
    const T* r = static_cast<const T*>(rstd);
    const int N = int(conv_n(d));
    const BackwardWorkspace<Acc> ws(workspace, d);
    DYCONV_LAUNCH(row_sums_kernel<T>, dim3(d.B * d.Cout), dim3(kThreads), stream, d.Cout, N, norm,
                  act, g, y, sc, sh, m, r, ws.sums, static_cast<T*>(dshift), static_cast<T*>(dscale));
    if (!dx && !dweight) return cudaSuccess;
    DYCONV_LAUNCH(norm_coef_kernel<T>, dim3(d.B), dim3(kThreads), stream, d.Cout, N, norm, sc, sh,
                  m, r, (const Acc*)ws.sums, ws.coef);
    const GradOut<T> dy{g, y, ws.coef, act, N};
    return launch_conv_backward<T>(d, static_cast<const T*>(x), static_cast<const T*>(weight), dy,
                                   static_cast<T*>(dx), static_cast<T*>(dweight), ws.wgrad_partial,
                                   stream);
  });
}

}  // namespace dyconv::cuda
