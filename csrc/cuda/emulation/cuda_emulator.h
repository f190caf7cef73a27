// CPU emulation of the CUDA subset the dyconv kernels use, so that the very
// same kernel sources (csrc/cuda/*.cu) run as host C++ in CI on machines
// without a GPU (tests/test_cuda_emulated.py).
//
// Model: launch_kernel runs the blocks of the grid one after another; the
// threads of a block are blockDim real std::threads that meet at
// __syncthreads() (a real barrier), so a missing barrier, a race on shared
// memory or a wrong index shows up as a wrong result. __shared__ maps to a
// function-local `static`: one instance shared by all threads, which is
// per-block storage because blocks run one at a time and launches are
// serialized. Threads that leave the kernel early drop out of later
// barriers of their block (like exited threads on the GPU).
// half_t / bf16_t are bit-compatible with IEEE binary16 / bfloat16 (the
// torch Half / BFloat16 storage), with round-to-nearest-even conversions.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

using cudaStream_t = void*;
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorInvalidConfiguration = 9 };

namespace dyconv_emu {

// A reusable barrier for the threads of one block; drop() removes a thread
// (it left the kernel) from the count of the current block. Waiting threads
// sleep on the generation counter (futex-based std::atomic::wait).
class Barrier {
 public:
  explicit Barrier(int count) : expected_(count) {}
  template <typename OnComplete>
  void arrive_and_wait(OnComplete&& on_complete) {
    const unsigned generation = generation_.load();
    if (arrived_.fetch_add(1) + 1 == expected_.load()) {
      on_complete();
      release();
    } else {
      generation_.wait(generation);
    }
  }
  void arrive_and_wait() { arrive_and_wait([] {}); }
  void drop() {
    const int expected = expected_.fetch_sub(1) - 1;
    if (expected > 0 && arrived_.load() == expected) release();
  }
  void reset(int count) { expected_ = count, arrived_ = 0; }  // only while no thread waits

 private:
  void release() {
    arrived_ = 0;
    generation_.fetch_add(1);
    generation_.notify_all();
  }
  std::atomic<int> expected_, arrived_{0};
  std::atomic<unsigned> generation_{0};
};

inline thread_local Barrier* block_barrier = nullptr;

// One launch at a time: __shared__ statics are shared by every block.
inline std::mutex& launch_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace dyconv_emu

inline void __syncthreads() { dyconv_emu::block_barrier->arrive_and_wait(); }

inline cudaError_t cudaGetLastError() { return cudaSuccess; }

// kernel<<<grid, block, 0, stream>>>(args...), synchronously.
template <typename... KernelArgs, typename... Args>
cudaError_t launch_kernel(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, cudaStream_t,
                          Args... args) {
  const long long threads = (long long)block.x * block.y * block.z;
  if (threads < 1 || threads > 1024 || grid.x < 1 || grid.y < 1 || grid.z < 1 || grid.y > 65535 ||
      grid.z > 65535 || block.z > 64)
    return cudaErrorInvalidConfiguration;
  std::lock_guard<std::mutex> lock(dyconv_emu::launch_mutex());
  dyconv_emu::Barrier sync{int(threads)}, block_end{int(threads)};
  auto worker = [&](unsigned tx, unsigned ty, unsigned tz) {
    threadIdx = dim3(tx, ty, tz), blockDim = block, gridDim = grid;
    dyconv_emu::block_barrier = &sync;
    for (unsigned bz = 0; bz < grid.z; ++bz)
      for (unsigned by = 0; by < grid.y; ++by)
        for (unsigned bx = 0; bx < grid.x; ++bx) {
          blockIdx = dim3(bx, by, bz);
          kernel(static_cast<KernelArgs>(args)...);
          sync.drop();
          // The block is over for all threads: the next one starts with a full barrier.
          block_end.arrive_and_wait([&] { sync.reset(int(threads)); });
        }
  };
  std::vector<std::thread> pool;
  pool.reserve(size_t(threads));
  for (unsigned z = 0; z < block.z; ++z)
    for (unsigned y = 0; y < block.y; ++y)
      for (unsigned x = 0; x < block.x; ++x) pool.emplace_back(worker, x, y, z);
  for (auto& t : pool) t.join();
  return cudaSuccess;
}

namespace dyconv::cuda {

// IEEE binary16 storage.
struct half_t {
  uint16_t bits;
};
// bfloat16 storage (the high half of a float32).
struct bf16_t {
  uint16_t bits;
};

inline float to_float(bf16_t v) {
  const uint32_t u = uint32_t(v.bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline bf16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {uint16_t((u >> 16) | 0x40)};  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return {uint16_t(u >> 16)};
}

inline float to_float(half_t v) {
  const uint32_t sign = uint32_t(v.bits & 0x8000u) << 16;
  const uint32_t exp = (v.bits >> 10) & 0x1fu, man = v.bits & 0x3ffu;
  uint32_t u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000u | (man << 13);  // inf, NaN
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (man << 13);  // normal: rebias 15 -> 127
  } else if (man == 0) {
    u = sign;  // zero
  } else {  // subnormal: man * 2^-24
    float f = float(man) * (1.0f / 16777216.0f);
    std::memcpy(&u, &f, 4);
    u |= sign;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline half_t float_to_half(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return {uint16_t(sign | 0x7e00u)};  // NaN
  if (a >= 0x477ff000u) return {uint16_t(sign | 0x7c00u)};  // rounds to >= 65520: inf
  if (a < 0x38800000u) {  // below the smallest normal 2^-14: subnormal or zero
    // Round a * 2^24 to an integer (nearest even) by adding 0.5 in a float whose
    // unit in the last place is 1 (the classic magic-number trick).
    float v;
    std::memcpy(&v, &a, 4);
    const float scaled = v * 16777216.0f;  // exact: a power-of-two scale
    const float magic = 8388608.0f;        // 2^23
    float r = (scaled + magic) - magic;    // rounds to nearest even in float arithmetic
    return {uint16_t(sign | uint16_t(r))};
  }
  // normal: keep 10 mantissa bits, round to nearest even on the dropped 13
  uint32_t m = a + 0x0fffu + ((a >> 13) & 1u);
  m -= 0x38000000u;  // rebias 127 -> 15
  return {uint16_t(sign | uint16_t(m >> 13))};
}

}  // namespace dyconv::cuda
