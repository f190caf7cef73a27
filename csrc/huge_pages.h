// Large host buffers (CPU op outputs and workspaces) backed by transparent huge
// pages. Under the common kernel setting (THP "madvise") anonymous memory gets
// 4 KiB pages unless asked, and
// the first touch of one paper-layer activation (58 MiB at batch 16) then costs
// ~15k page faults: ~15% of the fused op's forward + backward time measured
// here. torch does the same for all its allocations under THP_MEM_ALLOC_ENABLE=1.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace dyconv {

// Advises the kernel to back the 2 MiB-aligned interior of [p, p + bytes) (not
// yet touched) with huge pages. Advice only: failure changes nothing but speed.
inline void advise_huge_pages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t huge = uintptr_t(2) << 20;
  if (p == nullptr || bytes < 2 * huge) return;
  const auto begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t lo = (begin + huge - 1) & ~(huge - 1), hi = (begin + bytes) & ~(huge - 1);
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
#endif
}

}  // namespace dyconv
