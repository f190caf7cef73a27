// Normalization kernels around the conv GEMMs of dynamic_conv_norm_act.
//
// Forward: stats_finish_kernel merges the per-tile (mean, M2) partials of the
// conv epilogue into mean/rstd per (sample, group) (Chan et al., as exact as
// a two-pass variance; the depthwise forward, which has no tile epilogue, gets
// its partials from row_moments_kernel, one tile per row); norm_act_kernel
// applies normalize + affine + activation in one pass, out = act(y * a + o)
// with per-(b, c) a and o.
// Backward: row_sums_kernel forms the per-(b, c) sums of the gradient at
// the activation input (dshift = sum dz, dscale = sum dz * xhat), and
// norm_coef_kernel turns them into the GradCoef that the dgrad/wgrad
// kernels use to produce the conv-output gradient on the fly.
#pragma once

#include "cuda/common.cuh"
#include "cuda/conv_problems.cuh"

namespace dyconv::cuda {

// Count, mean and M2 (sum of squared deviations) of a set of values.
template <typename Acc>
struct Moments {
  Acc n, mean, m2;
};

template <typename Acc>
__device__ __forceinline__ Moments<Acc> merge(Moments<Acc> a, Moments<Acc> b) {
  if (b.n == Acc(0)) return a;
  if (a.n == Acc(0)) return b;
  const Acc n = a.n + b.n, delta = b.mean - a.mean;
  return {n, a.mean + delta * (b.n / n), a.m2 + b.m2 + delta * delta * (a.n * b.n / n)};
}

// grid (G, B): group g of sample b from partial (B, tiles, Cout, 2) written by
// tile_statistics; tile t covers min(tile_pixels, N - t * tile_pixels) pixels.
// With channel groups the conv wrote partial (B, groups, tiles, Cout / groups, 2)
// (its folded samples): row_channels = Cout / groups. Layer norm merges all of a
// sample's entries (launched with the unfolded B, Cout), instance norm is launched
// with the folded B and Cout (= row_channels), for which the two layouts agree.
template <typename T>
__global__ void __launch_bounds__(kThreads)
stats_finish_kernel(int Cout, int row_channels, int N, int tiles, int tile_pixels, NormKind norm,
                    double eps, const acc_of<T>* partial, T* mean, T* rstd) {
  using Acc = acc_of<T>;
  DYCONV_SHARED(Acc, sn, [kThreads]);
  DYCONV_SHARED(Acc, sm, [kThreads]);
  DYCONV_SHARED(Acc, sq, [kThreads]);
  const int g = int(blockIdx.x), b = int(blockIdx.y), G = int(gridDim.x), tid = int(threadIdx.x);
  const bool layer = norm == NormKind::Layer;
  const int items = layer ? tiles * Cout : tiles;
  const Acc* base = partial + (long long)b * tiles * Cout * 2;
  Moments<Acc> acc{0, 0, 0};
  for (int i = tid; i < items; i += kThreads) {
    const int t = layer ? i / row_channels % tiles : i;
    const long long at = layer ? i : (long long)i * Cout + g;
    const int count = N - t * tile_pixels < tile_pixels ? N - t * tile_pixels : tile_pixels;
    acc = merge(acc, Moments<Acc>{Acc(count), base[at * 2], base[at * 2 + 1]});
  }
  sn[tid] = acc.n, sm[tid] = acc.mean, sq[tid] = acc.m2;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s /= 2) {
    if (tid < s) {
      const Moments<Acc> m = merge(Moments<Acc>{sn[tid], sm[tid], sq[tid]},
                                   Moments<Acc>{sn[tid + s], sm[tid + s], sq[tid + s]});
      sn[tid] = m.n, sm[tid] = m.mean, sq[tid] = m.m2;
    }
    __syncthreads();
  }
  if (tid == 0) {
    mean[b * G + g] = from_acc<T>(sm[0]);
    rstd[b * G + g] = from_acc<T>(Acc(1) / sqrt_acc(sq[0] / sn[0] + Acc(eps)));
  }
}

// (a, o) of out = act(y * a + o): a = rstd * scale, o = shift - mean * a.
template <typename T>
struct Affine {
  acc_of<T> a, o, mean, rstd;
};

template <typename T>
__device__ __forceinline__ Affine<T> affine_of(long long bc, int Cout, NormKind norm,
                                               const T* scale, const T* shift, const T* mean,
                                               const T* rstd) {
  using Acc = acc_of<T>;
  Acc m = 0, r = 1;
  if (norm != NormKind::None) {
    const long long s = norm == NormKind::Layer ? bc / Cout : bc;
    m = to_acc(mean[s]), r = to_acc(rstd[s]);
  }
  const Acc a = r * to_acc(scale[bc]);
  return {a, to_acc(shift[bc]) - m * a, m, r};
}

// out = act((y - mean) * rstd * scale + shift), elementwise over (B, Cout, N).
template <typename T>
__global__ void __launch_bounds__(kThreads)
norm_act_kernel(long long size, int Cout, int N, NormKind norm, ActKind act, const T* y,
                const T* scale, const T* shift, const T* mean, const T* rstd, T* out) {
  for (long long i = blockIdx.x * (long long)kThreads + threadIdx.x; i < size;
       i += (long long)gridDim.x * kThreads) {
    const Affine<T> f = affine_of(i / N, Cout, norm, scale, shift, mean, rstd);
    out[i] = from_acc<T>(activate(to_acc(y[i]) * f.a + f.o, act));
  }
}

// Sum over the threads of a block of two values; the result is valid in thread 0.
template <typename Acc>
__device__ void block_sum2(Acc& s1, Acc& s2) {
  DYCONV_SHARED(Acc, r1, [kThreads]);
  DYCONV_SHARED(Acc, r2, [kThreads]);
  const int tid = int(threadIdx.x);
  r1[tid] = s1, r2[tid] = s2;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s /= 2) {
    if (tid < s) r1[tid] += r1[tid + s], r2[tid] += r2[tid + s];
    __syncthreads();
  }
  s1 = r1[0], s2 = r2[0];
  __syncthreads();  // r1/r2 may be reused by the caller's next call
}

// grid (B * Cout): the mean and M2 of each (b, c) row of y (B * Cout, N), as
// partial[bc * 2 + {0, 1}]: the partials of stats_finish_kernel with one tile of
// N pixels (the depthwise forward, which has no tile epilogue).
template <typename T>
__global__ void __launch_bounds__(kThreads)
row_moments_kernel(int N, const T* y, acc_of<T>* partial) {
  using Acc = acc_of<T>;
  const long long bc = blockIdx.x;
  const T* row = y + bc * N;
  Acc s = 0, unused = 0;
  for (int n = int(threadIdx.x); n < N; n += kThreads) s += to_acc(row[n]);
  block_sum2(s, unused);
  const Acc mu = s / Acc(N);
  Acc q = 0;
  for (int n = int(threadIdx.x); n < N; n += kThreads) {
    const Acc dv = to_acc(row[n]) - mu;
    q += dv * dv;
  }
  block_sum2(q, unused);
  if (threadIdx.x == 0) partial[bc * 2] = mu, partial[bc * 2 + 1] = q;
}

// grid (B * Cout): per (b, c) row of grad, s1 = sum dz and s2 = sum dz * xhat
// where dz = grad * act'(y * a + o) (fused op, y given), or s1 = sum grad
// (dynamic_conv2d bias gradient, y == nullptr). Writes s1 to out1 and s2 to
// out2 (storage, may be nullptr) and both to sums[bc * 2 + {0, 1}] (may be nullptr).
template <typename T>
__global__ void __launch_bounds__(kThreads)
row_sums_kernel(int Cout, int N, NormKind norm, ActKind act, const T* grad, const T* y,
                const T* scale, const T* shift, const T* mean, const T* rstd,
                acc_of<T>* sums, T* out1, T* out2) {
  using Acc = acc_of<T>;
  const long long bc = blockIdx.x;
  const T* g = grad + bc * N;
  Acc s1 = 0, s2 = 0;
  if (y) {
    const Affine<T> f = affine_of(bc, Cout, norm, scale, shift, mean, rstd);
    const T* yr = y + bc * N;
    for (int n = int(threadIdx.x); n < N; n += kThreads) {
      const Acc yv = to_acc(yr[n]);
      const Acc dz = to_acc(g[n]) * activate_grad(yv * f.a + f.o, act);
      s1 += dz;
      s2 += dz * (yv - f.mean) * f.rstd;
    }
  } else {
    for (int n = int(threadIdx.x); n < N; n += kThreads) s1 += to_acc(g[n]);
  }
  block_sum2(s1, s2);
  if (threadIdx.x == 0) {
    if (sums) sums[bc * 2] = s1, sums[bc * 2 + 1] = s2;
    if (out1) out1[bc] = from_acc<T>(s1);
    if (out2) out2[bc] = from_acc<T>(s2);
  }
}

// grid (B): the GradCoef of every (b, c) from the row sums. The norm backward
//   dy = rstd * (scale * dz - mean(scale * dz) - xhat * mean(scale * dz * xhat))
// (means over the normalization group) is written as k1 * dz + k2 * y + k3.
template <typename T>
__global__ void __launch_bounds__(kThreads)
norm_coef_kernel(int Cout, int N, NormKind norm, const T* scale, const T* shift, const T* mean,
                 const T* rstd, const acc_of<T>* sums, GradCoef<acc_of<T>>* coef) {
  using Acc = acc_of<T>;
  const int b = int(blockIdx.x);
  Acc t1 = 0, t2 = 0;  // layer: sums over the channels of the sample
  if (norm == NormKind::Layer) {
    for (int c = int(threadIdx.x); c < Cout; c += kThreads) {
      const long long i = (long long)b * Cout + c;
      const Acc sc = to_acc(scale[i]);
      t1 += sc * sums[i * 2], t2 += sc * sums[i * 2 + 1];
    }
    block_sum2(t1, t2);
  }
  DYCONV_SHARED(Acc, layer_sums, [2]);
  if (threadIdx.x == 0) layer_sums[0] = t1, layer_sums[1] = t2;
  __syncthreads();
  for (int c = int(threadIdx.x); c < Cout; c += kThreads) {
    const long long i = (long long)b * Cout + c;
    const Affine<T> f = affine_of(i, Cout, norm, scale, shift, mean, rstd);
    const Acc sc = to_acc(scale[i]);
    GradCoef<Acc> k{f.a, f.o, sc, 0, 0};
    if (norm != NormKind::None) {
      const bool layer = norm == NormKind::Layer;
      const Acc M = layer ? Acc(Cout) * Acc(N) : Acc(N);
      const Acc m1 = (layer ? layer_sums[0] : sc * sums[i * 2]) / M;
      const Acc m2 = (layer ? layer_sums[1] : sc * sums[i * 2 + 1]) / M;
      k.k1 = f.rstd * sc;
      k.k2 = -f.rstd * f.rstd * m2;
      k.k3 = f.rstd * (f.mean * f.rstd * m2 - m1);
    }
    coef[i] = k;
  }
}

}  // namespace dyconv::cuda
