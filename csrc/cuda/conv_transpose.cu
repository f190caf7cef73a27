// Forward launcher of dynamic_conv_transpose2d (see launchers.h).
//
// A transposed convolution is the input gradient of the convolution it
// transposes: y = conv_transpose(x, w) + bias is dx of conv(y', w) with dy := x.
// So this is the dgrad pass of the conv backward (the GEMM of the folded
// problem, or the depthwise gather) with x as the output gradient and the bias
// added in its epilogue: no kernel of its own. Its gradients are the forward
// conv (for x) and the conv's wgrad (for weight), both ops already
// (dyconv/_formulas.py conv_transpose_backward).
#include "cuda/conv_kernels.cuh"
#include "cuda/launchers.h"

namespace dyconv::cuda {

cudaError_t conv_transpose2d_forward(DType dtype, const ConvDims& d, const void* x,
                                     const void* weight, const void* bias, void* y,
                                     cudaStream_t stream) {
  return dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const GradOut<T> dy{static_cast<const T*>(x), nullptr, nullptr, ActKind::None,
                        int(conv_n(d))};
    // The conv input is only read for a weight gradient: none is asked for here.
    return launch_conv_backward<T>(d, nullptr, static_cast<const T*>(weight), dy,
                                   static_cast<const T*>(bias), static_cast<T*>(y), nullptr,
                                   nullptr, stream);
  });
}

}  // namespace dyconv::cuda
