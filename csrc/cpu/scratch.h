// Per-thread scratch memory kept between calls: the kernels' workspaces (padded
// copies of a sample, GEMM tiles, packed taps) cost no allocation, zero-filling
// or page faults per call. Each thread keeps its largest request per slot.
#pragma once

#include <c10/util/Exception.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace dyconv::cpu {

// Buffers one thread uses at the same time get different slots.
enum class Slot { Input, Output, Grad, Taps, WeightGrad, Count };

namespace scratch_detail {
struct Buffer {
  std::unique_ptr<void, decltype(&std::free)> data{nullptr, &std::free};
  size_t bytes = 0;
};
}  // namespace scratch_detail

// n elements of T, 64-byte aligned, uninitialised, valid until this thread asks
// for the same slot again.
template <typename T>
T* thread_scratch(Slot slot, int64_t n) {
  static thread_local std::array<scratch_detail::Buffer, size_t(Slot::Count)> buffers;
  scratch_detail::Buffer& buf = buffers[size_t(slot)];
  const size_t bytes = (size_t(std::max<int64_t>(n, 1)) * sizeof(T) + 63) / 64 * 64;
  if (buf.bytes < bytes) {
    buf.data.reset();
    buf.bytes = 0;
    void* p = std::aligned_alloc(64, bytes);
    TORCH_CHECK(p != nullptr, "dyconv: could not allocate ", bytes, " bytes of scratch memory");
    buf.data.reset(p);
    buf.bytes = bytes;
  }
  return static_cast<T*>(buf.data.get());
}

}  // namespace dyconv::cpu
