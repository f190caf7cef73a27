// Launchers of dynamic_conv2d and dynamic_conv2d_backward (see launchers.h).
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
                                   static_cast<T*>(dx), static_cast<T*>(dweight), ws.wgrad_partial,
                                   stream);
  });
}

}  // namespace dyconv::cuda
