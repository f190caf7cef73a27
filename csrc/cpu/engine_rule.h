// The fixed rule that picks a CPU engine from the shape (the default; the
// autotuner, cpu/engine_choice.h, measures instead). Its thresholds were measured
// on Intel Sapphire Rapids (benchmarks/RESULTS.md). On the AMD EPYC (AVX-512) of
// issue 22 the one place they were found wrong on a quiet machine (the paper's
// 96->96 layer: direct taps 1.17x faster than Winograd) reversed on the same
// machine loaded by other jobs (direct taps 1.4-1.6x slower, in wall and in CPU
// time; RESULTS.md, "Engine choice"), so no per-CPU entry was kept: where it
// matters, DYCONV_CPU_AUTOTUNE measures the machine as it is.
#pragma once

#include <type_traits>

#include "checks.h"
#include "cpu/engines.h"

namespace dyconv::cpu {

template <typename T>
Engine rule_engine(const ConvGeometry& g) {
  if (!shifted_conv_applies(g)) return Engine::Im2col;
  // Taps summed in registers beat one GEMM per tap while few channels leave the
  // GEMMs short, and im2col on the first layer's one input channel (measured from
  // 1->24 to 24->24 and 96->1; level with per-tap GEMMs at 32->32, slower above;
  // benchmarks/RESULTS.md).
  if (std::is_same_v<T, float> && g.Cin * g.Cout <= 24 * 24) return Engine::Direct;
  // One GEMM per tap reduces over Cin: with very few input channels one im2col
  // GEMM over Cin * kH * kW is faster. On small maps too: a sample's GEMMs are
  // then as short as its few pixels (512->512 at 7x7: im2col 1.15x the grouped
  // F.conv2d, shifted 0.55x, Winograd 0.32x, with its 16 tiles per GEMM).
  if (g.Cin < 4 || g.N() <= 64) return Engine::Im2col;
  // Winograd saves GEMM work in proportion to Cin * Cout per tile and adds
  // transforms in proportion to Cin + Cout: measured faster from 24->96 and
  // 64->64 on (tie at 32->32, slower at 96->1; benchmarks/RESULTS.md).
  if (winograd_conv_applies(g) && g.Cin * g.Cout >= 18 * (g.Cin + g.Cout)) return Engine::Winograd;
  return Engine::Shifted;
}

}  // namespace dyconv::cpu
