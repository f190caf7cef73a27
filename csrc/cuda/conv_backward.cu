// Backward launchers of both ops (see launchers.h).
//
// dynamic_conv2d_backward: row_sums_kernel (dbias), dgrad (dx), wgrad (dweight).
// dynamic_conv_norm_act_backward: row_sums_kernel (dscale, dshift and the
// norm sums) -> norm_coef_kernel -> dgrad/wgrad, which form the conv-output
// gradient from grad_out and conv_out while loading their tiles.
// dgrad/wgrad: the GEMMs of the folded problem (each (sample, group) a sample)
// or the depthwise kernels (launch_conv_backward); the row sums and the
// coefficients are per (b, c) and need no folding.
#include "cuda/conv_kernels.cuh"
#include "cuda/launchers.h"
#include "cuda/norm_kernels.cuh"

namespace dyconv::cuda {

size_t conv_backward_workspace_bytes(DType dtype, const ConvDims& d) {
  return dispatch_size(dtype, [&](auto tag) {
    using Acc = acc_of<typename decltype(tag)::type>;
    return size_t(BackwardWorkspace<Acc>::elems(d)) * sizeof(Acc);
  });
}

cudaError_t conv2d_backward(DType dtype, const ConvDims& d, const void* grad_out, const void* x,
                            const void* weight, void* dx, void* dweight, void* dbias,
                            void* workspace, cudaStream_t stream) {
  return dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = acc_of<T>;
    const T* g = static_cast<const T*>(grad_out);
    const int N = int(conv_n(d));
    if (dbias) {
      DYCONV_LAUNCH(row_sums_kernel<T>, dim3(d.B * d.Cout), dim3(kThreads), stream, d.Cout, N,
                    NormKind::None, ActKind::None, g, (const T*)nullptr, (const T*)nullptr,
                    (const T*)nullptr, (const T*)nullptr, (const T*)nullptr, (Acc*)nullptr,
                    static_cast<T*>(dbias), (T*)nullptr);
    }
    const GradOut<T> dy{g, nullptr, nullptr, ActKind::None, N};
    const BackwardWorkspace<Acc> ws(workspace, d);
    return launch_conv_backward<T>(d, static_cast<const T*>(x), static_cast<const T*>(weight), dy,
                                   nullptr, static_cast<T*>(dx), static_cast<T*>(dweight),
                                   ws.wgrad_partial, stream);
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
                                   nullptr, static_cast<T*>(dx), static_cast<T*>(dweight),
                                   ws.wgrad_partial, stream);
  });
}

}  // namespace dyconv::cuda
