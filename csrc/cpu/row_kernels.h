// The elementwise passes of the fused op over one contiguous row (span) of a
// channel, written as plain loops the compiler vectorises: sums go through
// short blocks accumulated in T (SIMD reduction), then into double.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "checks.h"

namespace dyconv::cpu {

// Each loop below is also compiled for AVX-512 and AVX2 + FMA, the version for
// the CPU picked when the library loads (GCC function multiversioning, which
// needs glibc's ifunc): the build's baseline is SSE2, a quarter or half of those
// vector widths. Other compilers and C libraries build the baseline only.
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__)
#define DYCONV_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DYCONV_SIMD_CLONES
#endif

using acc_t = double;  // statistics and reductions
constexpr int64_t kBlock = 256;

template <Activation A, typename T>
inline T activate(T z) {
  if constexpr (A == Activation::Relu) return z > T(0) ? z : T(0);
  else if constexpr (A == Activation::Sigmoid) return T(1) / (T(1) + std::exp(-z));
  else return z;
}

// g * d act(z) / dz, written as a select so the loops stay branch-free.
template <Activation A, typename T>
inline T activate_backward(T z, T g) {
  if constexpr (A == Activation::Relu) return z > T(0) ? g : T(0);
  else if constexpr (A == Activation::Sigmoid) {
    const T s = T(1) / (T(1) + std::exp(-z));
    return g * s * (T(1) - s);
  } else return g;
}

// f(std::integral_constant<Activation, act>{}): loops specialised per activation.
template <typename F>
void with_activation(Activation act, F&& f) {
  switch (act) {
    case Activation::Relu: return f(std::integral_constant<Activation, Activation::Relu>{});
    case Activation::Sigmoid: return f(std::integral_constant<Activation, Activation::Sigmoid>{});
    default: return f(std::integral_constant<Activation, Activation::None>{});
  }
}

// Mean and sum of squared deviations of y[0:n] (two passes; y is in cache).
template <typename T>
DYCONV_SIMD_CLONES void row_stats(const T* y, int64_t n, acc_t& mean, acc_t& m2) {
  acc_t s = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    T p = 0;
#pragma omp simd reduction(+ : p)
    for (int64_t i = b; i < e; ++i) p += y[i];
    s += p;
  }
  mean = s / acc_t(n);
  const T m = T(mean);
  acc_t q = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    T p = 0;
#pragma omp simd reduction(+ : p)
    for (int64_t i = b; i < e; ++i) p += (y[i] - m) * (y[i] - m);
    q += p;
  }
  // Correct for rounding the mean to T: sum((y - m)^2) = q - n * (mean - m)^2.
  const acc_t dm = mean - acc_t(m);
  m2 = std::max(acc_t(0), q - acc_t(n) * dm * dm);
}

// Count, mean and sum of squared deviations of values seen in parts, merged part by part (Chan et
// al.): as exact as a two-pass variance over all of them.
struct MergedStats {
  acc_t n = 0, mean = 0, m2 = 0;
  void merge(acc_t nb, acc_t mean_b, acc_t m2_b) {
    const acc_t delta = mean_b - mean, tot = n + nb;
    mean += delta * nb / tot;
    m2 += m2_b + delta * delta * n * nb / tot;
    n = tot;
  }
  acc_t rstd(double eps) const { return 1.0 / std::sqrt(m2 / n + eps); }
};

// out = act(y * a + o)
template <Activation A, typename T>
DYCONV_SIMD_CLONES void apply_row(const T* y, T* out, int64_t n, T a, T o) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = activate<A>(y[i] * a + o);
}

// With dz = g * act'(y * a + o): s1 += sum(dz), s2 += sum(dz * (y - m) * r).
template <Activation A, typename T>
DYCONV_SIMD_CLONES void dz_sums(const T* g, const T* y, int64_t n, T a, T o, T m, T r, acc_t& s1, acc_t& s2) {
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    T p1 = 0, p2 = 0;
#pragma omp simd reduction(+ : p1, p2)
    for (int64_t i = b; i < e; ++i) {
      const T d = activate_backward<A>(y[i] * a + o, g[i]);
      p1 += d;
      p2 += d * (y[i] - m);
    }
    s1 += p1;
    s2 += acc_t(p2) * r;
  }
}

// dst = c1 * g * act'(y * a + o) + c2 * y + c3: the conv-output gradient.
template <Activation A, typename T>
DYCONV_SIMD_CLONES void dy_row(const T* g, const T* y, T* dst, int64_t n, T a, T o, T c1, T c2, T c3) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dst[i] = c1 * activate_backward<A>(y[i] * a + o, g[i]) + c2 * y[i] + c3;
}

}  // namespace dyconv::cpu
