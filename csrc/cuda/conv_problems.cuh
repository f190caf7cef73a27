// The three GEMMs of a per-sample convolution, as Problems of gemm_tile
// (gemm_tile.cuh). Each reads one sample b of the conv tensors directly
// (implicit GEMM: no im2col buffer). K_ = Cin * kH * kW.
//
//   ForwardProblem  y(Cout, Hout*Wout)  = w(Cout, K_)          * im2col(x)(K_, Hout*Wout)
//   DgradProblem    dx(Cin, H*W)        = w^T(Cin, Cout*kH*kW) * gather(dy)(Cout*kH*kW, H*W)
//   WgradProblem    dw(Cout, K_)        = dy(Cout, Hout*Wout)  * im2col(x)^T(Hout*Wout, K_)
//
// The output gradient dy is read through GradOut, which for the fused op
// turns the gradient of the activation output into the conv-output gradient
// on the fly (activation and normalization backward; see GradOut).
#pragma once

#include "cuda/common.cuh"

namespace dyconv::cuda {

// Per-(b, c) coefficients of the fused backward, written by norm_coef_kernel.
// With z = y * a + o the activation input, dz = grad * act'(z) and
// dy = k1 * dz + k2 * y + k3.
template <typename A>
struct GradCoef {
  A a, o, k1, k2, k3;
};

// The conv-output gradient dy(b*Cout + c, pixel).
template <typename T>
struct GradOut {
  using Acc = acc_of<T>;
  const T* grad;                // grad_out (B, Cout, N)
  const T* y;                   // conv_out (fused op only)
  const GradCoef<Acc>* coef;    // nullptr: grad is dy itself (dynamic_conv2d)
  ActKind act;
  int N;
  __device__ __forceinline__ Acc operator()(int bc, int n) const {
    const long long i = (long long)bc * N + n;
    const Acc g = to_acc(grad[i]);
    if (coef == nullptr) return g;
    const GradCoef<Acc> c = coef[bc];
    const Acc yv = to_acc(y[i]);
    const Acc dz = g * activate_grad(yv * c.a + c.o, act);
    return c.k1 * dz + c.k2 * yv + c.k3;
  }
};

template <typename T_>
struct ForwardProblem {
  using T = T_;
  using Acc = acc_of<T>;
  static constexpr bool kAFastK = true;   // weight rows are contiguous in k
  static constexpr bool kBFastK = false;  // consecutive output pixels
  ConvDims d;
  const T* x;  // sample b
  const T* w;  // sample b
  struct ACtx { const T* row; };
  struct BCtx { int ih0, iw0; bool ok; };
  __device__ ACtx a_ctx(int m) const {
    return {m < d.Cout ? w + (long long)m * d.Cin * d.kH * d.kW : nullptr};
  }
  __device__ Acc load_a(const ACtx& c, int k) const { return c.row ? to_acc(c.row[k]) : Acc(0); }
  __device__ BCtx b_ctx(int n) const {
    const int oh = n / d.Wout, ow = n - oh * d.Wout;
    return {oh * d.sH - d.pH, ow * d.sW - d.pW, n < d.Hout * d.Wout};
  }
  __device__ Acc load_b(const BCtx& c, int k) const {
    const int kk = d.kH * d.kW, ci = k / kk, r = k - ci * kk, kh = r / d.kW, kw = r - kh * d.kW;
    const int ih = c.ih0 + kh * d.dH, iw = c.iw0 + kw * d.dW;
    const bool in = c.ok && ih >= 0 && ih < d.H && iw >= 0 && iw < d.W;
    return in ? to_acc(x[((long long)ci * d.H + ih) * d.W + iw]) : Acc(0);
  }
};

template <typename T_>
struct DgradProblem {
  using T = T_;
  using Acc = acc_of<T>;
  static constexpr bool kAFastK = true;   // w[b, co, ci, kh, kw]: (kh, kw) contiguous
  static constexpr bool kBFastK = false;  // consecutive input pixels
  ConvDims d;
  const T* w;         // sample b
  GradOut<T> dy;
  int sample;
  struct ACtx { const T* col; };
  struct BCtx { int ih, iw; bool ok; };
  __device__ ACtx a_ctx(int m) const {
    return {m < d.Cin ? w + (long long)m * d.kH * d.kW : nullptr};
  }
  __device__ Acc load_a(const ACtx& c, int k) const {
    const int kk = d.kH * d.kW, co = k / kk, r = k - co * kk;
    return c.col ? to_acc(c.col[(long long)co * d.Cin * kk + r]) : Acc(0);
  }
  __device__ BCtx b_ctx(int n) const {
    const int ih = n / d.W;
    return {ih, n - ih * d.W, n < d.H * d.W};
  }
  // dy at the output pixel that tap (kh, kw) of input pixel (ih, iw) feeds, or 0.
  __device__ Acc load_b(const BCtx& c, int k) const {
    const int kk = d.kH * d.kW, co = k / kk, r = k - co * kk, kh = r / d.kW, kw = r - kh * d.kW;
    const int th = c.ih + d.pH - kh * d.dH, tw = c.iw + d.pW - kw * d.dW;
    if (!c.ok || th < 0 || tw < 0 || th % d.sH != 0 || tw % d.sW != 0) return Acc(0);
    const int oh = th / d.sH, ow = tw / d.sW;
    if (oh >= d.Hout || ow >= d.Wout) return Acc(0);
    return dy(sample * d.Cout + co, oh * d.Wout + ow);
  }
};

template <typename T_>
struct WgradProblem {
  using T = T_;
  using Acc = acc_of<T>;
  static constexpr bool kAFastK = true;  // dy rows are contiguous in pixels
  static constexpr bool kBFastK = true;  // consecutive output pixels of one tap
  ConvDims d;
  const T* x;  // sample b
  GradOut<T> dy;
  int sample;
  struct ACtx { int bc; bool ok; };
  struct BCtx { const T* plane; int offh, offw; };
  __device__ ACtx a_ctx(int m) const { return {sample * d.Cout + m, m < d.Cout}; }
  __device__ Acc load_a(const ACtx& c, int k) const { return c.ok ? dy(c.bc, k) : Acc(0); }
  __device__ BCtx b_ctx(int n) const {
    const int kk = d.kH * d.kW;
    if (n >= d.Cin * kk) return {nullptr, 0, 0};
    const int ci = n / kk, r = n - ci * kk, kh = r / d.kW, kw = r - kh * d.kW;
    return {x + (long long)ci * d.H * d.W, kh * d.dH - d.pH, kw * d.dW - d.pW};
  }
  __device__ Acc load_b(const BCtx& c, int k) const {
    const int oh = k / d.Wout, ow = k - oh * d.Wout;
    const int ih = oh * d.sH + c.offh, iw = ow * d.sW + c.offw;
    const bool in = c.plane && ih >= 0 && ih < d.H && iw >= 0 && iw < d.W;
    return in ? to_acc(c.plane[(long long)ih * d.W + iw]) : Acc(0);
  }
};

}  // namespace dyconv::cuda
