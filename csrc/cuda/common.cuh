// Shared pieces of the dyconv CUDA kernels: storage types and their
// float32/float64 accumulation types, activations, and the kernel launch.
//
// The kernel sources compile either with nvcc or, with DYCONV_CUDA_EMULATION
// defined, as host C++ against emulation/cuda_emulator.h (the CPU block
// emulator used in CI). They therefore use only what the emulator provides:
// threadIdx/blockIdx/blockDim/gridDim, DYCONV_SHARED (below; not a raw
// __shared__), __syncthreads(), the half/bfloat16 conversions below and launch_kernel.
#pragma once

#include "cuda/launchers.h"

#if defined(DYCONV_CUDA_EMULATION)
// cuda_emulator.h (included by launchers.h) defines half_t, bf16_t and their conversions.
#elif defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#else
#error "csrc/cuda kernel sources compile with nvcc or with DYCONV_CUDA_EMULATION"
#endif

#include <cmath>
#include <cstdint>

// A static shared-memory array of the block: DYCONV_SHARED(float, tile, [16][65]);
// declares `__shared__ float tile[16][65];` on the GPU, and in the emulation a
// reference to a per-block heap array of that type (ASan checks its bounds).
#if defined(DYCONV_CUDA_EMULATION)
#define DYCONV_SHARED(T, name, dims) DYCONV_EMU_SHARED(T, name, dims)
#else
#define DYCONV_SHARED(T, name, dims) __shared__ T name dims
#endif

namespace dyconv::cuda {

#if !defined(DYCONV_CUDA_EMULATION)
using half_t = __half;
using bf16_t = __nv_bfloat16;
__device__ __forceinline__ float to_float(half_t v) { return __half2float(v); }
__device__ __forceinline__ float to_float(bf16_t v) { return __bfloat162float(v); }
__device__ __forceinline__ half_t float_to_half(float v) { return __float2half_rn(v); }
__device__ __forceinline__ bf16_t float_to_bf16(float v) { return __float2bfloat16_rn(v); }
#endif

// Accumulation type of a storage type: float64 for float64, float32 otherwise.
template <typename T> struct AccOf { using type = float; };
template <> struct AccOf<double> { using type = double; };
template <typename T> using acc_of = typename AccOf<T>::type;

__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }
__device__ __forceinline__ float to_acc(half_t v) { return to_float(v); }
__device__ __forceinline__ float to_acc(bf16_t v) { return to_float(v); }

template <typename T> struct Store;
template <> struct Store<float> { __device__ static float from(float v) { return v; } };
template <> struct Store<double> { __device__ static double from(double v) { return v; } };
template <> struct Store<half_t> { __device__ static half_t from(float v) { return float_to_half(v); } };
template <> struct Store<bf16_t> { __device__ static bf16_t from(float v) { return float_to_bf16(v); } };

// Accumulator -> storage (round to nearest even).
template <typename T>
__device__ __forceinline__ T from_acc(acc_of<T> v) { return Store<T>::from(v); }

// The value a storage type keeps of an accumulator value.
template <typename T>
__device__ __forceinline__ acc_of<T> round_to_storage(acc_of<T> v) { return to_acc(from_acc<T>(v)); }

__device__ __forceinline__ float exp_acc(float v) { return expf(v); }
__device__ __forceinline__ double exp_acc(double v) { return exp(v); }
__device__ __forceinline__ float sqrt_acc(float v) { return sqrtf(v); }
__device__ __forceinline__ double sqrt_acc(double v) { return sqrt(v); }

template <typename A>
__device__ __forceinline__ A activate(A z, ActKind act) {
  if (act == ActKind::Relu) return z > A(0) ? z : A(0);
  if (act == ActKind::Sigmoid) return A(1) / (A(1) + exp_acc(-z));
  return z;
}

// d act(z) / dz
template <typename A>
__device__ __forceinline__ A activate_grad(A z, ActKind act) {
  if (act == ActKind::Relu) return z > A(0) ? A(1) : A(0);
  if (act == ActKind::Sigmoid) {
    const A s = A(1) / (A(1) + exp_acc(-z));
    return s * (A(1) - s);
  }
  return A(1);
}

// Threads per block of every kernel (the emulator runs them as real threads).
constexpr int kThreads = 256;

inline unsigned ceil_div(long long a, long long b) { return unsigned((a + b - 1) / b); }

// Grid of a grid-stride elementwise kernel over n items.
inline unsigned elementwise_blocks(long long n) {
  const long long blocks = (n + kThreads - 1) / kThreads;
  return unsigned(blocks < 4096 ? (blocks > 0 ? blocks : 1) : 4096);
}

#if !defined(DYCONV_CUDA_EMULATION)
// Launches kernel<<<grid, block, 0, stream>>>(args...) and returns the launch error.
template <typename... KernelArgs, typename... Args>
cudaError_t launch_kernel(void (*kernel)(KernelArgs...), dim3 grid, dim3 block,
                          cudaStream_t stream, Args... args) {
  kernel<<<grid, block, 0, stream>>>(static_cast<KernelArgs>(args)...);
  return cudaGetLastError();
}
#endif

template <typename T> struct Tag { using type = T; };

// Returns f(Tag<storage type>{}) for a DType (`otherwise` for an unknown one).
template <typename R, typename F>
R dispatch(DType dtype, R otherwise, F&& f) {
  switch (dtype) {
    case DType::Float32: return f(Tag<float>{});
    case DType::Float64: return f(Tag<double>{});
    case DType::Float16: return f(Tag<half_t>{});
    case DType::BFloat16: return f(Tag<bf16_t>{});
  }
  return otherwise;
}

template <typename F>
cudaError_t dispatch_dtype(DType dtype, F&& f) { return dispatch(dtype, cudaErrorInvalidValue, f); }

template <typename F>
size_t dispatch_size(DType dtype, F&& f) { return dispatch(dtype, size_t(0), f); }

// Runs the launches in order and stops at the first error.
#define DYCONV_LAUNCH(...)                       \
  do {                                           \
    const cudaError_t err_ = launch_kernel(__VA_ARGS__); \
    if (err_ != cudaSuccess) return err_;        \
  } while (0)

}  // namespace dyconv::cuda
