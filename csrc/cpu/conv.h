// The per-sample convolution behind one interface for the ops: the Winograd
// engine (winograd_conv.h, tiles of 2x2 or 4x4 outputs), the shifted engine (shifted_conv.h) with its taps
// summed in registers (direct) or one GEMM per tap, at strides above 1 the
// stride phases (phase_conv.h), where they apply and are faster, im2col tiles
// (conv_engine.h) elsewhere. Which engine runs:
// cpu/engine_choice.h (included at the end).
#pragma once

#include <type_traits>

#include "checks.h"
#include "cpu/conv_engine.h"
#include "cpu/engines.h"
#include "cpu/phase_conv.h"
#include "cpu/shifted_conv.h"
#include "cpu/winograd_conv.h"

namespace dyconv::cpu {

// The engine for a call with geometry g: cpu/engine_choice.h.
template <typename T>
Engine choose_engine(const ConvGeometry& g);

template <typename T>
struct Conv {
  const ConvGeometry& g;
  Engine engine;
  ShiftedPlan sp{};
  WinogradPlan wp{};
  PhasePlan pp{};
  TilePlan tiles{};  // the output tiles the forward epilogue is called on

  explicit Conv(const ConvGeometry& geom) : Conv(geom, choose_engine<T>(geom)) {}

  // With engine e, which must apply (engine_applies).
  Conv(const ConvGeometry& geom, Engine e) : g(geom), engine(e) {
    if (engine == Engine::Winograd) {
      wp = plan_winograd<WinogradF2, T>(g);
      tiles = wp.out;
    } else if (engine == Engine::Winograd4) {
      wp = plan_winograd<WinogradF4, T>(g);
      tiles = wp.out;
    } else if (shifted()) {
      sp = plan_shifted<T>(g, engine == Engine::Direct);
      tiles = sp.out;
    } else if (engine == Engine::Phases) {
      pp = plan_phases<T>(g);
      tiles = pp.out;
    } else {
      tiles = plan_tiles<T>(g);
    }
  }

  // Whether forward() computes all tiles of a sample on one thread, in order.
  bool whole_samples_in_order() const {
    if (winograd()) return wp.parts == 1;
    if (engine == Engine::Phases) return pp.parts == 1;
    return shifted() && sp.parts == 1;
  }

  // The shifted engine, with direct taps or a GEMM per tap.
  bool shifted() const { return engine == Engine::Shifted || engine == Engine::Direct; }

  // The Winograd engine, either tile size.
  bool winograd() const { return engine == Engine::Winograd || engine == Engine::Winograd4; }

  // y (B, Cout, Hout, Wout) = conv; epilogue(b, t, n0, n1) after output tile t
  // (pixels [n0, n1) of sample b) is written.
  template <typename Epilogue>
  void forward(const T* x, const T* w, T* y, Epilogue&& epilogue) const {
    if (engine == Engine::Winograd) winograd_forward<WinogradF2, T>(g, wp, x, w, y, epilogue);
    else if (engine == Engine::Winograd4) winograd_forward<WinogradF4, T>(g, wp, x, w, y, epilogue);
    else if (shifted()) shifted_forward<T>(g, sp, x, w, y, epilogue);
    else if (engine == Engine::Phases) phase_forward<T>(g, pp, x, w, y, epilogue);
    else conv_forward<T>(g, x, w, y, epilogue);
  }

  // dx, dw (either may be null) from dy given by dy_span(b, c, n0, n1, dst).
  template <typename DySpan>
  void backward(const T* x, const T* w, T* dx, T* dw, DySpan&& dy_span) const {
    if (engine == Engine::Winograd) winograd_backward<WinogradF2, T>(g, wp, x, w, dx, dw, dy_span);
    else if (engine == Engine::Winograd4) winograd_backward<WinogradF4, T>(g, wp, x, w, dx, dw, dy_span);
    else if (shifted()) shifted_backward<T>(g, sp, x, w, dx, dw, dy_span);
    else if (engine == Engine::Phases) phase_backward<T>(g, pp, x, w, dx, dw, dy_span);
    else conv_backward<T>(g, x, w, dx, dw, dy_span);
  }
};

}  // namespace dyconv::cpu

#include "cpu/engine_choice.h"  // choose_engine, which times Conv's engines
