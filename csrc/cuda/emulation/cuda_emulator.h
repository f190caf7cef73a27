// CPU emulation of the CUDA subset the dyconv kernels use, so that the very
// same kernel sources (csrc/cuda/*.cu) run as host C++ in CI on machines
// without a GPU (tests/test_cuda_emulated.py, and under ThreadSanitizer and
// AddressSanitizer + UBSan in tests/test_cuda_sanitizers.py).
//
// Model: launch_kernel runs the blocks of the grid one after another; the
// threads of a block are blockDim real std::threads that meet at
// __syncthreads() (a real barrier), so a missing barrier, a race on shared
// memory or a wrong index shows up as a wrong result, and under TSan as a
// race report whatever the result. Shared memory (DYCONV_SHARED in
// common.cuh) is one heap allocation per declaration and block, sized
// exactly, filled with 0xff bytes (NaN) and freed when the block ends: ASan
// sees its bounds, and a block never sees another block's data.
// The emulator fails a launch the way a GPU would (cudaErrorInvalidConfiguration
// for a grid or block a GPU rejects, more than 48 KiB of static shared memory
// per block) and also fails it (cudaErrorLaunchFailure, with a message on
// stderr) when the threads of a block reach different numbers of
// __syncthreads() (a barrier in divergent code: a hang or undefined
// behaviour on a GPU). Threads that leave the kernel early drop out of later
// barriers of their block, so such a kernel ends and is reported instead of hanging.
// half_t / bf16_t are bit-compatible with IEEE binary16 / bfloat16 (the
// torch Half / BFloat16 storage), with round-to-nearest-even conversions.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// No __shared__: kernel sources declare shared arrays with DYCONV_SHARED (common.cuh).

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

using cudaStream_t = void*;
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorLaunchFailure = 719,
};

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

// Static shared memory a GPU gives one block (sm_80/sm_90 without opt-in).
constexpr size_t kMaxStaticSharedBytes = 48 * 1024;

// What the threads of the running block share: the barrier, the shared
// arrays (allocated by the first thread that reaches their declaration) and
// each thread's __syncthreads() count.
struct Block {
  explicit Block(int threads) : barrier(threads), syncs(size_t(threads), 0) {}
  Barrier barrier;
  std::mutex mutex;  // guards arrays, shared_bytes
  std::vector<std::pair<const void*, void*>> arrays;  // (declaration site, memory)
  size_t shared_bytes = 0;
  std::vector<long long> syncs;
  void free_arrays() {
    for (auto& a : arrays) ::operator delete(a.second);
    arrays.clear();
    shared_bytes = 0;
  }
};

inline thread_local Block* block = nullptr;
inline thread_local long long syncs = 0;  // __syncthreads() calls of this thread in this block

// The launch's first failure (the first one wins); stderr gets its message.
struct LaunchError {
  std::mutex mutex;
  cudaError_t code = cudaSuccess;
  void set(cudaError_t c, const char* what) {
    std::lock_guard<std::mutex> lock(mutex);
    if (code != cudaSuccess) return;
    code = c;
    std::fprintf(stderr, "dyconv CUDA emulator: %s\n", what);
  }
};
inline thread_local LaunchError* launch_error = nullptr;

// The block's instance of the shared array declared at `site` (type A, an array type).
template <typename A>
A& block_shared(const void* site) {
  Block& b = *block;
  std::lock_guard<std::mutex> lock(b.mutex);
  for (auto& a : b.arrays)
    if (a.first == site) return *static_cast<A*>(a.second);
  void* memory = ::operator new(sizeof(A));
  std::memset(memory, 0xff, sizeof(A));  // NaN in every float type: reads before writes show
  b.arrays.emplace_back(site, memory);
  b.shared_bytes += sizeof(A);
  if (b.shared_bytes > kMaxStaticSharedBytes) {
    char what[160];
    std::snprintf(what, sizeof what, "block (%u, %u, %u) declares %zu bytes of shared memory, "
                  "more than the %zu a GPU allows", blockIdx.x, blockIdx.y, blockIdx.z,
                  b.shared_bytes, kMaxStaticSharedBytes);
    launch_error->set(cudaErrorInvalidValue, what);
  }
  return *static_cast<A*>(memory);
}

// One launch at a time (the emulated device runs one kernel at a time).
inline std::mutex& launch_mutex() {
  static std::mutex m;
  return m;
}

// Whether a GPU accepts the launch configuration (compute capability 8.x/9.x limits).
inline bool valid_launch(dim3 grid, dim3 block) {
  const long long threads = (long long)block.x * block.y * block.z;
  return threads >= 1 && threads <= 1024 && block.x <= 1024 && block.y <= 1024 && block.z <= 64 &&
         grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && grid.x <= 2147483647u && grid.y <= 65535 &&
         grid.z <= 65535;
}

}  // namespace dyconv_emu

// Shared array `name` of type T dims (e.g. float, [16][65]) of the running block.
#define DYCONV_EMU_SHARED(T, name, dims)  \
  static const char name##_site_ = 0;     \
  T(&name) dims = ::dyconv_emu::block_shared<T dims>(&name##_site_)

inline void __syncthreads() {
  ++dyconv_emu::syncs;
  dyconv_emu::block->barrier.arrive_and_wait();
}

inline cudaError_t cudaGetLastError() { return cudaSuccess; }

// kernel<<<grid, block, 0, stream>>>(args...), synchronously.
template <typename... KernelArgs, typename... Args>
cudaError_t launch_kernel(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, cudaStream_t,
                          Args... args) {
  if (!dyconv_emu::valid_launch(grid, block)) return cudaErrorInvalidConfiguration;
  const int threads = int(block.x * block.y * block.z);
  std::lock_guard<std::mutex> lock(dyconv_emu::launch_mutex());
  dyconv_emu::Block state{threads};
  dyconv_emu::Barrier block_end{threads};
  dyconv_emu::LaunchError error;
  // Runs once per block, by the last thread to finish it: every thread's barrier count must agree.
  auto finish_block = [&] {
    for (int t = 1; t < threads; ++t)
      if (state.syncs[size_t(t)] != state.syncs[0]) {
        char what[200];
        std::snprintf(what, sizeof what, "block (%u, %u, %u): thread %d reached %lld __syncthreads() "
                      "and thread 0 %lld (a barrier in divergent code; a GPU hangs or misbehaves)",
                      blockIdx.x, blockIdx.y, blockIdx.z, t, state.syncs[size_t(t)], state.syncs[0]);
        error.set(cudaErrorLaunchFailure, what);
        break;
      }
    state.free_arrays();
    state.barrier.reset(threads);
  };
  auto worker = [&](unsigned tx, unsigned ty, unsigned tz) {
    threadIdx = dim3(tx, ty, tz), blockDim = block, gridDim = grid;
    dyconv_emu::block = &state;
    dyconv_emu::launch_error = &error;
    const size_t linear = (size_t(tz) * block.y + ty) * block.x + tx;
    for (unsigned bz = 0; bz < grid.z; ++bz)
      for (unsigned by = 0; by < grid.y; ++by)
        for (unsigned bx = 0; bx < grid.x; ++bx) {
          blockIdx = dim3(bx, by, bz);
          dyconv_emu::syncs = 0;
          kernel(static_cast<KernelArgs>(args)...);
          state.syncs[linear] = dyconv_emu::syncs;
          state.barrier.drop();
          // The block is over for all threads: the next one starts with a full barrier.
          block_end.arrive_and_wait(finish_block);
        }
  };
  std::vector<std::thread> pool;
  pool.reserve(size_t(threads));
  for (unsigned z = 0; z < block.z; ++z)
    for (unsigned y = 0; y < block.y; ++y)
      for (unsigned x = 0; x < block.x; ++x) pool.emplace_back(worker, x, y, z);
  for (auto& t : pool) t.join();
  return error.code;
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
