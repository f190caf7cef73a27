// Large CPU outputs backed by transparent huge pages. Under the common kernel
// setting (THP "madvise") anonymous memory gets 4 KiB pages unless asked, and
// the first touch of one paper-layer activation (58 MiB at batch 16) then costs
// ~15k page faults: ~15% of the fused op's forward + backward time measured
// here. torch does the same for all its allocations under THP_MEM_ALLOC_ENABLE=1.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace dyconv::cpu {

// Advises the kernel to back the 2 MiB-aligned interior of t's (not yet touched)
// memory with huge pages. Advice only: failure changes nothing but speed.
inline at::Tensor advise_huge_pages(at::Tensor t) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t huge = uintptr_t(2) << 20;
  if (t.defined() && t.nbytes() >= 2 * huge) {
    const auto begin = reinterpret_cast<uintptr_t>(t.data_ptr());
    const uintptr_t lo = (begin + huge - 1) & ~(huge - 1);
    const uintptr_t hi = (begin + t.nbytes()) & ~(huge - 1);
    if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
  }
#endif
  return t;
}

inline at::Tensor empty_output(c10::IntArrayRef sizes, const at::TensorOptions& options) {
  return advise_huge_pages(at::empty(sizes, options));
}

}  // namespace dyconv::cpu
