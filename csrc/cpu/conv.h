// The per-sample convolution behind one interface for the ops: the shifted-GEMM
// engine (shifted_conv.h) where it applies, im2col tiles (conv_engine.h) elsewhere.
#pragma once

#include "checks.h"
#include "cpu/conv_engine.h"
#include "cpu/shifted_conv.h"

namespace dyconv::cpu {

template <typename T>
struct Conv {
  const ConvGeometry& g;
  bool shifted;
  ShiftedPlan sp{};
  TilePlan tiles{};  // the output tiles the forward epilogue is called on

  explicit Conv(const ConvGeometry& geom) : g(geom) {
    // One GEMM per tap reduces over Cin: with very few input channels (the first
    // layer's 1) one im2col GEMM over Cin * kH * kW is faster.
    shifted = shifted_conv_applies(g) && g.Cin >= 4;
    if (shifted) {
      sp = plan_shifted<T>(g);
      tiles = sp.out;
    } else {
      tiles = plan_tiles<T>(g);
    }
  }

  // Whether forward() computes all tiles of a sample on one thread, in order.
  bool whole_samples_in_order() const { return shifted && sp.parts == 1; }

  // dx and dw must be zero-filled before backward().
  bool grads_need_zeros() const { return !shifted; }

  // y (B, Cout, Hout, Wout) = conv; epilogue(b, t, n0, n1) after output tile t
  // (pixels [n0, n1) of sample b) is written.
  template <typename Epilogue>
  void forward(const T* x, const T* w, T* y, Epilogue&& epilogue) const {
    if (shifted) shifted_forward<T>(g, sp, x, w, y, epilogue);
    else conv_forward<T>(g, x, w, y, epilogue);
  }

  // dx, dw (either may be null) from dy given by dy_span(b, c, n0, n1, dst).
  template <typename DySpan>
  void backward(const T* x, const T* w, T* dx, T* dw, DySpan&& dy_span) const {
    if (shifted) shifted_backward<T>(g, sp, x, w, dx, dw, dy_span);
    else conv_backward<T>(g, x, w, dx, dw, dy_span);
  }
};

}  // namespace dyconv::cpu
