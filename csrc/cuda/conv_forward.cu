// Forward launchers of both ops (see launchers.h).
//
// dynamic_conv2d: one implicit-GEMM kernel (bias in the epilogue) on the
// folded problem (each (sample, group) a sample), or the direct depthwise kernel.
// dynamic_conv_norm_act: the conv GEMM whose epilogue writes conv_out and the
// per-tile statistics -> stats_finish_kernel (mean, rstd) -> norm_act_kernel
// (out). With norm "none" the conv epilogue writes out directly (one kernel).
// Depthwise: the direct kernel writes conv_out, row_moments_kernel the
// statistics partials (one tile per row), then the same two kernels.
#include "cuda/conv_kernels.cuh"
#include "cuda/launchers.h"
#include "cuda/norm_kernels.cuh"

namespace dyconv::cuda {
namespace {

// conv_out = conv(x, w) (+ bias); with `out` also out = act(conv_out * scale + shift);
// with `partial` the statistics partials (B, groups, tiles, Cout / groups, 2) of the
// GEMM epilogue, or (B, 1, Cout, 2) when depthwise (tiles_of(d) == 1).
template <typename T>
cudaError_t launch_conv(const ConvDims& d, const T* x, const T* w, const T* bias, T* y,
                        const T* scale, const T* shift, T* out, ActKind act, acc_of<T>* partial,
                        cudaStream_t stream) {
  const ConvDims f = folded(d);
  if (depthwise(d)) {
    const long long size = (long long)d.B * d.Cout * conv_n(d);
    DYCONV_LAUNCH(depthwise_forward_kernel<T>, dim3(elementwise_blocks(size)), dim3(kThreads),
                  stream, f, x, w, bias, y, scale, shift, out, act);
    if (partial) {
      DYCONV_LAUNCH(row_moments_kernel<T>, dim3(unsigned(d.B) * d.Cout), dim3(kThreads), stream,
                    int(conv_n(d)), (const T*)y, partial);
    }
    return cudaSuccess;
  }
  const dim3 grid(forward_pixel_tiles(f), ceil_div(f.Cout, BM), f.B);
  DYCONV_LAUNCH(conv_forward_kernel<T>, grid, dim3(kThreads), stream, f, x, w, bias, y, scale,
                shift, out, act, partial);
  return cudaSuccess;
}

// Pixel tiles of the statistics partials of launch_conv (and the pixels of each).
int tiles_of(const ConvDims& d) { return depthwise(d) ? 1 : forward_pixel_tiles(d); }
int tile_pixels_of(const ConvDims& d) { return depthwise(d) ? int(conv_n(d)) : BN; }

}  // namespace

cudaError_t conv2d_forward(DType dtype, const ConvDims& d, const void* x, const void* weight,
                           const void* bias, void* y, cudaStream_t stream) {
  return dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return launch_conv<T>(d, static_cast<const T*>(x), static_cast<const T*>(weight),
                          static_cast<const T*>(bias), static_cast<T*>(y), nullptr, nullptr,
                          nullptr, ActKind::None, nullptr, stream);
  });
}

size_t conv_norm_act_forward_workspace_bytes(DType dtype, const ConvDims& d, NormKind norm) {
  if (norm == NormKind::None) return 0;
  return dispatch_size(dtype, [&](auto tag) {
    return size_t((long long)d.B * tiles_of(d) * d.Cout * 2) *
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
    const cudaError_t err = launch_conv<T>(d, static_cast<const T*>(x),
                                           static_cast<const T*>(weight), nullptr, y, sc, sh,
                                           stats ? nullptr : o, act, partial, stream);
    if (err != cudaSuccess || !stats) return err;
    T* m = static_cast<T*>(mean);
    T* r = static_cast<T*>(rstd);
    const int tiles = tiles_of(d), N = int(conv_n(d));
    // the partials' rows: Cout / groups channels on the GEMM path, Cout when depthwise
    const ConvDims rows = depthwise(d) ? d : folded(d);
    if (norm == NormKind::Layer) {
      DYCONV_LAUNCH(stats_finish_kernel<T>, dim3(1, d.B), dim3(kThreads), stream, d.Cout,
                    rows.Cout, N, tiles, tile_pixels_of(d), norm, eps, (const Acc*)partial, m, r);
    } else {
      DYCONV_LAUNCH(stats_finish_kernel<T>, dim3(rows.Cout, rows.B), dim3(kThreads), stream,
                    rows.Cout, rows.Cout, N, tiles, tile_pixels_of(d), norm, eps,
                    (const Acc*)partial, m, r);
    }
    const long long size = (long long)d.B * d.Cout * N;
    DYCONV_LAUNCH(norm_act_kernel<T>, dim3(elementwise_blocks(size)), dim3(kThreads), stream,
                  size, d.Cout, N, norm, act, (const T*)y, sc, sh, (const T*)m, (const T*)r, o);
    return cudaSuccess;
  });
}

}  // namespace dyconv::cuda
