// The CPU engines of the per-sample convolution, where each applies, and
// DYCONV_CPU_ENGINE=winograd|winograd4|direct|shifted|phases|im2col, which forces one
// wherever it applies (tests, benchmarks; the others fall back to the automatic choice).
// winograd is F(2x2, 3x3), winograd4 F(4x4, 3x3) (cpu/winograd_conv.h).
#pragma once

#include <c10/util/Exception.h>

#include <cstdlib>
#include <string_view>
#include <type_traits>

#include "checks.h"
#include "cpu/phase_conv.h"
#include "cpu/shifted_conv.h"
#include "cpu/winograd_conv.h"

namespace dyconv::cpu {

enum class Engine { Im2col, Shifted, Direct, Winograd, Phases, Winograd4 };

inline const char* engine_name(Engine e) {
  switch (e) {
    case Engine::Winograd: return "winograd";
    case Engine::Winograd4: return "winograd4";
    case Engine::Direct: return "direct";
    case Engine::Shifted: return "shifted";
    case Engine::Phases: return "phases";
    default: return "im2col";
  }
}

inline bool parse_engine(std::string_view v, Engine& engine) {
  for (Engine e : {Engine::Im2col, Engine::Shifted, Engine::Direct, Engine::Winograd, Engine::Winograd4,
                   Engine::Phases}) {
    if (v == engine_name(e)) {
      engine = e;
      return true;
    }
  }
  return false;
}

// The engine DYCONV_CPU_ENGINE asks for; false when unset or "auto".
inline bool forced_engine(Engine& engine) {
  const char* env = std::getenv("DYCONV_CPU_ENGINE");
  const std::string_view v = env ? env : "";
  if (v.empty() || v == "auto") return false;
  TORCH_CHECK(parse_engine(v, engine),
              "DYCONV_CPU_ENGINE: expected auto, winograd, winograd4, direct, shifted, phases or im2col, got '", v,
              "'");
  return true;
}

// Whether the engines split this batch's samples between threads (ShiftedPlan, WinogradPlan and
// PhasePlan: the batch does not divide evenly and is small; im2col tiles: fewer samples than threads).
inline bool splits_samples(int64_t B, int64_t threads) { return B % threads != 0 && B < 8 * threads; }

// Whether engine e computes this convolution in T: im2col everywhere, the shifted
// engine at stride 1, direct taps also in float only, Winograd (either tile) for 3x3
// kernels, the stride phases at strides above 1.
template <typename T>
bool engine_applies(Engine e, const ConvGeometry& g) {
  switch (e) {
    case Engine::Winograd:
    case Engine::Winograd4: return winograd_conv_applies(g);
    case Engine::Shifted: return shifted_conv_applies(g);
    case Engine::Direct: return std::is_same_v<T, float> && shifted_conv_applies(g);
    case Engine::Phases: return phase_conv_applies(g);
    default: return true;
  }
}

}  // namespace dyconv::cpu
