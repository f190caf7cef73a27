// The weight gradient of a sample whose backward was split into parts across threads: each part wrote its own
// partial sum; the sample's dw is their total. Shared by the shifted-GEMM and Winograd engines.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

namespace dyconv::cpu {

// dw[b] = sum over the parts with has_work(part) of partial[b * parts + part] (each wk long); a part without
// work never wrote its slot, so it is not read.
template <typename T, typename HasWork>
void sum_part_gradients(const T* partial, int64_t B, int64_t parts, int64_t wk, T* dw, HasWork&& has_work) {
  at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      T* dst = dw + b * wk;
      std::fill(dst, dst + wk, T(0));
      for (int64_t part = 0; part < parts; ++part) {
        if (!has_work(part)) continue;
        const T* src = partial + (b * parts + part) * wk;
        for (int64_t i = 0; i < wk; ++i) dst[i] += src[i];
      }
    }
  });
}

}  // namespace dyconv::cpu
