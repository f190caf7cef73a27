// Direct kernels of the depthwise convolution (groups == Cin, channel
// multiplier M = Cout / Cin): nothing to reduce over channels, so no GEMM.
// They take the folded dims f (launchers.h folded(): sample b * Cin + c, one
// input channel, M output channels), so output row bc = b * Cout + c * M + m
// reads input plane bc / M. Any kernel size, stride and dilation.
//
//   depthwise_forward_kernel  one thread per output element, a loop over the taps
//   depthwise_dgrad_kernel    one thread per input element, a gather over the
//                             (m, tap) that reach it (no atomics)
//   depthwise_wgrad_kernel    one block per output row: dw[row, tap] = sum over the
//                             row's pixels of dy * x under the tap, kTapBatch taps
//                             per pass, summed by a fixed-order block tree
#pragma once

#include "cuda/conv_problems.cuh"

namespace dyconv::cuda {

// y = conv(x, w) (+ bias); with `out`: out = act(y * scale + shift) (norm "none"),
// like the epilogue of conv_forward_kernel.
template <typename T>
__global__ void __launch_bounds__(kThreads)
depthwise_forward_kernel(ConvDims f, const T* x, const T* w, const T* bias, T* y, const T* scale,
                         const T* shift, T* out, ActKind act) {
  using Acc = acc_of<T>;
  const long long N = (long long)f.Hout * f.Wout, size = (long long)f.B * f.Cout * N;
  const int taps = f.kH * f.kW;
  for (long long i = blockIdx.x * (long long)kThreads + threadIdx.x; i < size;
       i += (long long)gridDim.x * kThreads) {
    const long long bc = i / N;
    const int n = int(i - bc * N), oh = n / f.Wout, ow = n - oh * f.Wout;
    const T* plane = x + bc / f.Cout * f.H * f.W;
    const T* wr = w + bc * taps;
    const int ih0 = oh * f.sH - f.pH, iw0 = ow * f.sW - f.pW;
    Acc acc = bias ? to_acc(bias[bc]) : Acc(0);
    for (int kh = 0; kh < f.kH; ++kh) {
      const int ih = ih0 + kh * f.dH;
      if (ih < 0 || ih >= f.H) continue;
      for (int kw = 0; kw < f.kW; ++kw) {
        const int iw = iw0 + kw * f.dW;
        if (iw >= 0 && iw < f.W)
          acc += to_acc(wr[kh * f.kW + kw]) * to_acc(plane[(long long)ih * f.W + iw]);
      }
    }
    const Acc v = round_to_storage<T>(acc);
    y[i] = from_acc<T>(v);
    if (out) out[i] = from_acc<T>(activate(v * to_acc(scale[bc]) + to_acc(shift[bc]), act));
  }
}

// dx[plane, ih, iw] = sum over m and the taps whose output pixel exists of
// w[plane * M + m, tap] * dy(plane * M + m, that pixel) (+ bias[plane]).
template <typename T>
__global__ void __launch_bounds__(kThreads)
depthwise_dgrad_kernel(ConvDims f, const T* w, GradOut<T> dy, const T* bias, T* dx) {
  using Acc = acc_of<T>;
  const long long HW = (long long)f.H * f.W, size = (long long)f.B * HW;
  const int taps = f.kH * f.kW, M = f.Cout;
  for (long long i = blockIdx.x * (long long)kThreads + threadIdx.x; i < size;
       i += (long long)gridDim.x * kThreads) {
    const long long plane = i / HW;
    const int p = int(i - plane * HW), ih = p / f.W, iw = p - ih * f.W;
    Acc acc = bias ? to_acc(bias[plane]) : Acc(0);
    for (int kh = 0; kh < f.kH; ++kh) {
      const int th = ih + f.pH - kh * f.dH;
      if (th < 0 || th % f.sH != 0 || th / f.sH >= f.Hout) continue;
      for (int kw = 0; kw < f.kW; ++kw) {
        const int tw = iw + f.pW - kw * f.dW;
        if (tw < 0 || tw % f.sW != 0 || tw / f.sW >= f.Wout) continue;
        const int n = th / f.sH * f.Wout + tw / f.sW, t = kh * f.kW + kw;
        for (int m = 0; m < M; ++m) {
          const long long bc = plane * M + m;
          acc += to_acc(w[bc * taps + t]) * dy(int(bc), n);
        }
      }
    }
    dx[i] = from_acc<T>(acc);
  }
}

constexpr int kTapBatch = 8;  // taps one pass of depthwise_wgrad_kernel reduces

// grid (B * Cout): dw[bc, tap] = sum over output pixels n of dy(bc, n) * x[plane, under tap].
template <typename T>
__global__ void __launch_bounds__(kThreads)
depthwise_wgrad_kernel(ConvDims f, const T* x, GradOut<T> dy, T* dw) {
  using Acc = acc_of<T>;
  DYCONV_SHARED(Acc, red, [kTapBatch][kThreads]);
  const int tid = int(threadIdx.x), taps = f.kH * f.kW, N = f.Hout * f.Wout;
  const long long bc = blockIdx.x;
  const T* plane = x + bc / f.Cout * f.H * f.W;
  for (int t0 = 0; t0 < taps; t0 += kTapBatch) {
    const int nt = taps - t0 < kTapBatch ? taps - t0 : kTapBatch;
    Acc acc[kTapBatch];
    for (int j = 0; j < kTapBatch; ++j) acc[j] = Acc(0);
    for (int n = tid; n < N; n += kThreads) {
      const Acc g = dy(int(bc), n);
      const int oh = n / f.Wout, ow = n - oh * f.Wout;
      for (int j = 0; j < nt; ++j) {
        const int t = t0 + j, kh = t / f.kW, kw = t - kh * f.kW;
        const int ih = oh * f.sH - f.pH + kh * f.dH, iw = ow * f.sW - f.pW + kw * f.dW;
        if (ih >= 0 && ih < f.H && iw >= 0 && iw < f.W)
          acc[j] += g * to_acc(plane[(long long)ih * f.W + iw]);
      }
    }
    for (int j = 0; j < kTapBatch; ++j) red[j][tid] = acc[j];
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s /= 2) {
      if (tid < s)
        for (int j = 0; j < kTapBatch; ++j) red[j][tid] += red[j][tid + s];
      __syncthreads();
    }
    if (tid < nt) dw[bc * taps + t0 + tid] = from_acc<T>(red[tid][0]);
    __syncthreads();  // red is rewritten by the next pass
  }
}

// Launches the depthwise dgrad and/or wgrad (nullptr outputs are skipped); f folded.
template <typename T>
cudaError_t launch_depthwise_backward(const ConvDims& f, const T* x, const T* w, GradOut<T> dy,
                                      const T* bias, T* dx, T* dw, cudaStream_t stream) {
  if (dx) {
    DYCONV_LAUNCH(depthwise_dgrad_kernel<T>, dim3(elementwise_blocks((long long)f.B * f.H * f.W)),
                  dim3(kThreads), stream, f, w, dy, bias, dx);
  }
  if (dw) {
    DYCONV_LAUNCH(depthwise_wgrad_kernel<T>, dim3(unsigned(f.B) * f.Cout), dim3(kThreads), stream,
                  f, x, dy, dw);
  }
  return cudaSuccess;
}

}  // namespace dyconv::cuda
