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
  if (!shifted_conv_applies(g)) {
    // Strided: the stride phases' per-tap GEMMs (no im2col gathers, no col2im scatter) measured faster
    // on the AMD EPYC of issue 22 from 8->8 to 128->128 channels on maps of 32x32 to 256x256 (StyleGAN2's
    // 128->128 up layer 1.06x im2col, 64->128 at 56x56 1.08x, 16->16 to 32->64 1.1-1.9x), level at 256->256
    // and slower at 512->512 (0.83-0.93x: im2col's one GEMM over Cin * kH * kW is then long enough) and on
    // small maps (14x14 -> 7x7: 0.5x) or one to three input channels (a GEMM per tap reduces over Cin).
    if (phase_conv_applies(g) && g.Cin >= 4 && g.N() > 64 && g.Cin * g.Cout < 256 * 256) return Engine::Phases;
    return Engine::Im2col;
  }
  // Taps summed in registers beat one GEMM per tap while few channels leave the
  // GEMMs short, and im2col on the first layer's one input channel (measured from
  // 1->24 to 24->24 and 96->1; level with per-tap GEMMs at 32->32, slower above;
  // benchmarks/RESULTS.md).
  if (std::is_same_v<T, float> && g.Cin * g.Cout <= 24 * 24) return Engine::Direct;
  // A 1x1 kernel has one tap: im2col is then one GEMM per sample on the input as it
  // is, where the shifted engine first copies it into a padded buffer (CondConv's
  // 112->672 at 14x14: 1.26x the grouped idiom instead of 1.08x; DyMN's 40->120 at
  // 16x125 1.43x instead of 1.41x; AMD EPYC, quiet, freed memory kept).
  if (g.kH == 1 && g.kW == 1) return Engine::Im2col;
  // One GEMM per tap reduces over Cin: with very few input channels one im2col
  // GEMM over Cin * kH * kW is faster. On small maps too: a sample's GEMMs are
  // then as short as its few pixels (512->512 at 7x7: im2col 1.15x the grouped
  // F.conv2d, shifted 0.55x, Winograd 0.32x, with its 16 tiles per GEMM).
  if (g.Cin < 4 || g.N() <= 64) return Engine::Im2col;
  // Winograd saves GEMM work in proportion to Cin * Cout per tile and adds
  // transforms in proportion to Cin + Cout: measured faster from 24->96 and
  // 64->64 on (tie at 32->32, slower at 96->1; benchmarks/RESULTS.md). Its 4x4
  // tiles (Engine::Winograd4) are never the rule's: 5-16x the float32 error of the
  // 2x2 tiles for 0.81-1.14x their speed on the paper's layers, 0.7-0.85x on wide
  // layers with small maps (docs/cpu_kernels.md); the autotuner times them where
  // the float32 precision allows (engine_choice.h).
  if (winograd_conv_applies(g) && g.Cin * g.Cout >= 18 * (g.Cin + g.Cout)) return Engine::Winograd;
  return Engine::Shifted;
}

}  // namespace dyconv::cpu
