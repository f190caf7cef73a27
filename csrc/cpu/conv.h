// The per-sample convolution behind one interface for the ops: the Winograd
// engine (winograd_conv.h), the shifted engine (shifted_conv.h) with its taps
// summed in registers (direct) or one GEMM per tap, where they apply and are
// faster, im2col tiles (conv_engine.h) elsewhere.
//
// DYCONV_CPU_ENGINE=winograd|direct|shifted|im2col forces an engine wherever it applies
// (the others fall back to the automatic choice), for tests and benchmarks;
// unset or "auto": the automatic choice.
#pragma once

#include <c10/util/Exception.h>

#include <cstdlib>
#include <string_view>
#include <type_traits>

#include "checks.h"
#include "cpu/conv_engine.h"
#include "cpu/shifted_conv.h"
#include "cpu/winograd_conv.h"

namespace dyconv::cpu {

enum class Engine { Im2col, Shifted, Direct, Winograd };

// The engine DYCONV_CPU_ENGINE asks for; false when unset or "auto".
inline bool forced_engine(Engine& engine) {
  const char* env = std::getenv("DYCONV_CPU_ENGINE");
  const std::string_view v = env ? env : "";
  if (v.empty() || v == "auto") return false;
  if (v == "winograd") engine = Engine::Winograd;
  else if (v == "shifted") engine = Engine::Shifted;
  else if (v == "direct") engine = Engine::Direct;
  else if (v == "im2col") engine = Engine::Im2col;
  else TORCH_CHECK(false, "DYCONV_CPU_ENGINE: expected auto, winograd, direct, shifted or im2col, got '", v, "'");
  return true;
}

template <typename T>
Engine choose_engine(const ConvGeometry& g) {
  Engine forced;
  if (forced_engine(forced)) {
    if (forced == Engine::Im2col) return forced;
    if (forced == Engine::Winograd && winograd_conv_applies(g)) return forced;
    if (forced == Engine::Shifted && shifted_conv_applies(g)) return forced;
    if (forced == Engine::Direct && shifted_conv_applies(g) && std::is_same_v<T, float>) return forced;
  }
  if (!shifted_conv_applies(g)) return Engine::Im2col;
  // Taps summed in registers beat one GEMM per tap while few channels leave the
  // GEMMs short, and im2col on the first layer's one input channel (measured from
  // 1->24 to 24->24 and 96->1; level with per-tap GEMMs at 32->32, slower above;
  // benchmarks/RESULTS.md).
  if (std::is_same_v<T, float> && g.Cin * g.Cout <= 24 * 24) return Engine::Direct;
  // One GEMM per tap reduces over Cin: with very few input channels one im2col
  // GEMM over Cin * kH * kW is faster.
  if (g.Cin < 4) return Engine::Im2col;
  // Winograd saves GEMM work in proportion to Cin * Cout per tile and adds
  // transforms in proportion to Cin + Cout: measured faster from 24->96 and
  // 64->64 on (tie at 32->32, slower at 96->1; benchmarks/RESULTS.md).
  if (winograd_conv_applies(g) && g.Cin * g.Cout >= 18 * (g.Cin + g.Cout)) return Engine::Winograd;
  return Engine::Shifted;
}

template <typename T>
struct Conv {
  const ConvGeometry& g;
  Engine engine;
  ShiftedPlan sp{};
  WinogradPlan wp{};
  TilePlan tiles{};  // the output tiles the forward epilogue is called on

  explicit Conv(const ConvGeometry& geom) : g(geom), engine(choose_engine<T>(geom)) {
    if (engine == Engine::Winograd) {
      wp = plan_winograd<T>(g);
      tiles = wp.out;
    } else if (shifted()) {
      sp = plan_shifted<T>(g, engine == Engine::Direct);
      tiles = sp.out;
    } else {
      tiles = plan_tiles<T>(g);
    }
  }

  // Whether forward() computes all tiles of a sample on one thread, in order.
  bool whole_samples_in_order() const {
    if (engine == Engine::Winograd) return wp.parts == 1;
    return shifted() && sp.parts == 1;
  }

  // The shifted engine, with direct taps or a GEMM per tap.
  bool shifted() const { return engine == Engine::Shifted || engine == Engine::Direct; }

  // dx and dw must be zero-filled before backward().
  bool grads_need_zeros() const { return engine == Engine::Im2col; }

  // y (B, Cout, Hout, Wout) = conv; epilogue(b, t, n0, n1) after output tile t
  // (pixels [n0, n1) of sample b) is written.
  template <typename Epilogue>
  void forward(const T* x, const T* w, T* y, Epilogue&& epilogue) const {
    if (engine == Engine::Winograd) winograd_forward<T>(g, wp, x, w, y, epilogue);
    else if (shifted()) shifted_forward<T>(g, sp, x, w, y, epilogue);
    else conv_forward<T>(g, x, w, y, epilogue);
  }

  // dx, dw (either may be null) from dy given by dy_span(b, c, n0, n1, dst).
  template <typename DySpan>
  void backward(const T* x, const T* w, T* dx, T* dw, DySpan&& dy_span) const {
    if (engine == Engine::Winograd) winograd_backward<T>(g, wp, x, w, dx, dw, dy_span);
    else if (shifted()) shifted_backward<T>(g, sp, x, w, dx, dw, dy_span);
    else conv_backward<T>(g, x, w, dx, dw, dy_span);
  }
};

}  // namespace dyconv::cpu
