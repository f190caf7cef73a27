// Implicit-GEMM convolution kernels: forward (with the bias, the fused
// affine + activation of norm "none", and the per-tile normalization
// statistics in its epilogue), dgrad (dx, with the transposed conv's bias in
// its epilogue) and wgrad (dweight, split over output pixels when the batch
// alone does not fill the GPU).
// One launch covers the batch: grid (pixel tiles, channel tiles, batch). With
// channel groups the kernels get the folded dims (launchers.h folded()): each
// (sample, group) is a sample of its own, at the same memory.
#pragma once

#include "cuda/conv_problems.cuh"
#include "cuda/depthwise_kernels.cuh"
#include "cuda/gemm_tile.cuh"

namespace dyconv::cuda {

// Per-sample sizes: x[b] elements, GEMM reduction length K, output pixels N.
__host__ __device__ inline long long conv_in_size(const ConvDims& d) {
  return (long long)d.Cin * d.H * d.W;
}
__host__ __device__ inline long long conv_k(const ConvDims& d) {
  return (long long)d.Cin * d.kH * d.kW;
}
__host__ __device__ inline long long conv_n(const ConvDims& d) {
  return (long long)d.Hout * d.Wout;
}

// Output-pixel tiles per sample of the forward kernel (its statistics partials).
inline int forward_pixel_tiles(const ConvDims& d) { return int(ceil_div(conv_n(d), BN)); }

// Mean and M2 (sum of squared deviations) of each channel row of the block
// tile, over its valid pixels; partial[((b * tiles + tile) * Cout + c) * 2 + {0, 1}].
// `v` holds the stored conv outputs; all threads must call this.
template <typename Acc>
__device__ void tile_statistics(const Acc (&v)[TM][TN], int b, int m0, int n0, int Cout, int N,
                                Acc* partial) {
  DYCONV_SHARED(Acc, red, [BM][TX + 1]);
  DYCONV_SHARED(Acc, tile_mean, [BM]);
  const int tid = int(threadIdx.x), tx = tile_tx(), ty = tile_ty();
  const int count = N - n0 < BN ? N - n0 : BN;
  for (int i = 0; i < TM; ++i) {
    Acc s = 0;
    for (int j = 0; j < TN; ++j) s += n0 + tx + TX * j < N ? v[i][j] : Acc(0);
    red[ty + TY * i][tx] = s;
  }
  __syncthreads();
  if (tid < BM) {
    Acc s = 0;
    for (int x = 0; x < TX; ++x) s += red[tid][x];
    tile_mean[tid] = s / Acc(count);
  }
  __syncthreads();
  for (int i = 0; i < TM; ++i) {
    const Acc mu = tile_mean[ty + TY * i];
    Acc q = 0;
    for (int j = 0; j < TN; ++j) {
      const Acc dv = v[i][j] - mu;
      q += n0 + tx + TX * j < N ? dv * dv : Acc(0);
    }
    red[ty + TY * i][tx] = q;
  }
  __syncthreads();
  if (tid < BM && m0 + tid < Cout) {
    Acc q = 0;
    for (int x = 0; x < TX; ++x) q += red[tid][x];
    Acc* dst = partial + (((long long)b * gridDim.x + blockIdx.x) * Cout + m0 + tid) * 2;
    dst[0] = tile_mean[tid];
    dst[1] = q;
  }
}

// y = conv(x, w) (+ bias). With `out`: out = act(y * scale + shift) (norm "none").
// With `partial`: the tile statistics of y for the normalization.
template <typename T>
__global__ void __launch_bounds__(kThreads)
conv_forward_kernel(ConvDims d, const T* x, const T* w, const T* bias, T* y, const T* scale,
                    const T* shift, T* out, ActKind act, acc_of<T>* partial) {
  using Acc = acc_of<T>;
  const int b = int(blockIdx.z), n0 = int(blockIdx.x) * BN, m0 = int(blockIdx.y) * BM;
  const int N = int(conv_n(d)), K = int(conv_k(d));
  const ForwardProblem<T> p{d, x + b * conv_in_size(d), w + (long long)b * d.Cout * K};
  Acc acc[TM][TN];
  gemm_tile(p, m0, n0, 0, K, acc);
  const int tx = tile_tx(), ty = tile_ty();
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + ty + TY * i;
    if (m >= d.Cout) continue;
    const long long bc = (long long)b * d.Cout + m;
    const Acc bv = bias ? to_acc(bias[bc]) : Acc(0);
    const Acc sc = out ? to_acc(scale[bc]) : Acc(0), sh = out ? to_acc(shift[bc]) : Acc(0);
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + tx + TX * j;
      if (n >= N) continue;
      const Acc v = round_to_storage<T>(acc[i][j] + bv);
      y[bc * N + n] = from_acc<T>(v);
      if (out) out[bc * N + n] = from_acc<T>(activate(v * sc + sh, act));
      acc[i][j] = v;
    }
  }
  if (partial) tile_statistics(acc, b, m0, n0, d.Cout, N, partial);
}

// dx = col2im(w^T dy) (+ bias (B, Cin): the transposed conv), as a gather over the
// taps that reach each input pixel.
template <typename T>
__global__ void __launch_bounds__(kThreads)
conv_dgrad_kernel(ConvDims d, const T* w, GradOut<T> dy, const T* bias, T* dx) {
  using Acc = acc_of<T>;
  const int b = int(blockIdx.z), n0 = int(blockIdx.x) * BN, m0 = int(blockIdx.y) * BM;
  const int HW = d.H * d.W, kk = d.kH * d.kW;
  const DgradProblem<T> p{d, w + (long long)b * d.Cout * conv_k(d), dy, b};
  Acc acc[TM][TN];
  gemm_tile(p, m0, n0, 0, d.Cout * kk, acc);
  const int tx = tile_tx(), ty = tile_ty();
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + ty + TY * i;
    if (m >= d.Cin) continue;
    T* row = dx + ((long long)b * d.Cin + m) * HW;
    const Acc bv = bias ? to_acc(bias[(long long)b * d.Cin + m]) : Acc(0);
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + tx + TX * j;
      if (n < HW) row[n] = from_acc<T>(acc[i][j] + bv);
    }
  }
}

// How the wgrad reduction over output pixels is split across blocks.
struct WgradSplit {
  int splits;  // blocks per (sample, tile)
  int chunk;   // output pixels per split, a multiple of BK
};

inline WgradSplit wgrad_split(const ConvDims& d) {
  const long long N = conv_n(d);
  const long long tiles = (long long)ceil_div(conv_k(d), BN) * ceil_div(d.Cout, BM) * d.B;
  const long long target_blocks = 1024;  // several waves on a 100+ SM GPU
  long long splits = target_blocks / tiles;
  const long long max_splits = N / (2 * BK);  // at least two k-steps per split
  if (splits > max_splits) splits = max_splits;
  if (splits > 65535 / d.B) splits = 65535 / d.B;
  if (splits < 1) splits = 1;
  const long long per = (N + splits - 1) / splits;
  const int chunk = int((per + BK - 1) / BK * BK);
  return {int((N + chunk - 1) / chunk), chunk};
}

// dw = dy im2col(x)^T over the output pixels of split blockIdx.z % splits:
// written to dw when there is one split, else to partial[split] (summed by
// wgrad_reduce_kernel).
template <typename T>
__global__ void __launch_bounds__(kThreads)
conv_wgrad_kernel(ConvDims d, const T* x, GradOut<T> dy, WgradSplit split, T* dw,
                  acc_of<T>* partial) {
  using Acc = acc_of<T>;
  const int b = int(blockIdx.z) / split.splits, s = int(blockIdx.z) % split.splits;
  const int n0 = int(blockIdx.x) * BN, m0 = int(blockIdx.y) * BM;
  const int N = int(conv_n(d)), K = int(conv_k(d));
  const int k_begin = s * split.chunk, k_end = N < k_begin + split.chunk ? N : k_begin + split.chunk;
  const WgradProblem<T> p{d, x + b * conv_in_size(d), dy, b};
  Acc acc[TM][TN];
  gemm_tile(p, m0, n0, k_begin, k_end, acc);
  const int tx = tile_tx(), ty = tile_ty();
  const long long plane = (long long)d.B * d.Cout * K;
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + ty + TY * i;
    if (m >= d.Cout) continue;
    const long long row = ((long long)b * d.Cout + m) * K;
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + tx + TX * j;
      if (n >= K) continue;
      if (partial) partial[s * plane + row + n] = acc[i][j];
      else dw[row + n] = from_acc<T>(acc[i][j]);
    }
  }
}

// dw[i] = sum over splits of partial[split][i].
template <typename T>
__global__ void __launch_bounds__(kThreads)
wgrad_reduce_kernel(long long size, int splits, const acc_of<T>* partial, T* dw) {
  for (long long i = blockIdx.x * (long long)kThreads + threadIdx.x; i < size;
       i += (long long)gridDim.x * kThreads) {
    acc_of<T> s = 0;
    for (int k = 0; k < splits; ++k) s += partial[k * size + i];
    dw[i] = from_acc<T>(s);
  }
}

// Launches the GEMM dgrad (with `bias`, may be nullptr) and/or wgrad (nullptr
// outputs are skipped) of the folded dims f. `partial` holds wgrad_partial_elems(f)
// accumulators.
template <typename T>
cudaError_t launch_gemm_backward(const ConvDims& f, const T* x, const T* w, GradOut<T> dy,
                                 const T* bias, T* dx, T* dw, acc_of<T>* partial,
                                 cudaStream_t stream) {
  if (dx) {
    const dim3 grid(ceil_div((long long)f.H * f.W, BN), ceil_div(f.Cin, BM), f.B);
    DYCONV_LAUNCH(conv_dgrad_kernel<T>, grid, dim3(kThreads), stream, f, w, dy, bias, dx);
  }
  if (dw) {
    const WgradSplit split = wgrad_split(f);
    const dim3 grid(ceil_div(conv_k(f), BN), ceil_div(f.Cout, BM), f.B * split.splits);
    acc_of<T>* part = split.splits > 1 ? partial : nullptr;
    DYCONV_LAUNCH(conv_wgrad_kernel<T>, grid, dim3(kThreads), stream, f, x, dy, split, dw, part);
    if (part) {
      const long long size = (long long)f.B * f.Cout * conv_k(f);
      DYCONV_LAUNCH(wgrad_reduce_kernel<T>, dim3(elementwise_blocks(size)), dim3(kThreads), stream,
                    size, split.splits, (const acc_of<T>*)part, dw);
    }
  }
  return cudaSuccess;
}

// dx (+ bias) and/or dweight of the convolution d (groups unfolded): the
// depthwise kernels or the GEMMs of the folded problem.
template <typename T>
cudaError_t launch_conv_backward(const ConvDims& d, const T* x, const T* w, GradOut<T> dy,
                                 const T* bias, T* dx, T* dw, acc_of<T>* partial,
                                 cudaStream_t stream) {
  if (depthwise(d)) return launch_depthwise_backward<T>(folded(d), x, w, dy, bias, dx, dw, stream);
  return launch_gemm_backward<T>(folded(d), x, w, dy, bias, dx, dw, partial, stream);
}

// Accumulators the wgrad split of the folded dims f needs (0 with one split).
inline long long wgrad_partial_elems(const ConvDims& f) {
  const WgradSplit split = wgrad_split(f);
  return split.splits > 1 ? split.splits * (long long)f.B * f.Cout * conv_k(f) : 0;
}

// The workspace of both backward ops, carved out of one buffer of
// elems(d) accumulators (d with its groups): per-(b, c) row sums and GradCoef,
// then the wgrad split partials of the GEMM path (none for depthwise).
template <typename Acc>
struct BackwardWorkspace {
  Acc* sums;              // (B * Cout, 2)
  GradCoef<Acc>* coef;    // (B * Cout)
  Acc* wgrad_partial;     // wgrad_partial_elems(d)
  static long long elems(const ConvDims& d) {
    return (long long)d.B * d.Cout * (2 + sizeof(GradCoef<Acc>) / sizeof(Acc)) +
           (depthwise(d) ? 0 : wgrad_partial_elems(folded(d)));
  }
  BackwardWorkspace(void* buffer, const ConvDims& d) {
    const long long rows = (long long)d.B * d.Cout;
    sums = static_cast<Acc*>(buffer);
    coef = reinterpret_cast<GradCoef<Acc>*>(sums + rows * 2);
    wgrad_partial = reinterpret_cast<Acc*>(coef + rows);
  }
};

}  // namespace dyconv::cuda
