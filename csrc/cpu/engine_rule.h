// The fixed rule that picks a CPU engine from the shape (the default; the
// autotuner, cpu/engine_choice.h, measures instead). Its thresholds were
// measured on two CPUs (benchmarks/RESULTS.md, "Engine choice"): Intel Sapphire
// Rapids, and AMD EPYC (Zen, AVX-512), where direct taps stay faster than the
// GEMM engines up to wider layers; other CPUs get Sapphire Rapids' thresholds.
#pragma once

#include <type_traits>

#include "checks.h"
#include "cpu/cpu_id.h"
#include "cpu/engines.h"

namespace dyconv::cpu {

// Largest Cin * Cout at which direct taps beat the GEMM engines on this CPU:
// 24->24 to 32->32 on Sapphire Rapids; on AMD EPYC with AVX-512 (quiet machine,
// issue 22) direct taps run the paper's 96->96 layer at about the cores' FMA peak,
// 1.17x (batch 16) and 1.08x (batch 64) faster than Winograd.
inline int64_t direct_taps_limit() {
  return cpu_id().amd() && cpu_id().avx512 ? 96 * 96 : 24 * 24;
}

template <typename T>
Engine rule_engine(const ConvGeometry& g) {
  if (!shifted_conv_applies(g)) return Engine::Im2col;
  // Taps summed in registers beat one GEMM per tap while few channels leave the
  // GEMMs short, and im2col on the first layer's one input channel (measured from
  // 1->24 to 24->24 and 96->1; level with per-tap GEMMs at 32->32, slower above;
  // benchmarks/RESULTS.md).
  if (std::is_same_v<T, float> && g.Cin * g.Cout <= direct_taps_limit()) return Engine::Direct;
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
