// The norm's backward for one sample of the fused op: from the per-channel sums s1 = sum(dz) and
// s2 = sum(dz * xhat) (dz = grad_out * act'(activation input), xhat the normalized conv output),
// the coefficients of the conv-output gradient dy = k1 * dz + k2 * y + k3 per channel, from
// dy = rstd * (scale * dz - mean(dxhat) - xhat * mean(dxhat * xhat)). Shared by the float32 /
// float64 kernel (dynamic_conv_norm_act_kernel.cpp) and the bfloat16 AMX one (cpu/amx_bf16_norm_act.h).
#pragma once

#include <cstdint>

#include "checks.h"
#include "cpu/row_kernels.h"

namespace dyconv::cpu {

// sc, s1, s2, k1, k2, k3: the sample's Cout channels; mp, rp: its statistics (one for a layer norm, one
// per channel for an instance norm; unread for none). N: pixels per channel. single: each statistic is
// over one value (the normalized value is 0 whatever y: its gradient is 0).
template <typename T>
void norm_backward_coefficients(Norm norm, bool single, int64_t Cout, int64_t N, const T* sc, const acc_t* s1,
                                const acc_t* s2, const T* mp, const T* rp, T* k1, T* k2, T* k3) {
  const bool layer = norm == Norm::Layer;
  acc_t t1 = 0, t2 = 0;  // layer: sums over the channels of the sample
  if (layer) {
    for (int64_t c = 0; c < Cout; ++c) {
      t1 += acc_t(sc[c]) * s1[c];
      t2 += acc_t(sc[c]) * s2[c];
    }
  }
  for (int64_t c = 0; c < Cout; ++c) {
    if (norm == Norm::None || single) {
      k1[c] = single ? T(0) : sc[c], k2[c] = 0, k3[c] = 0;
      continue;
    }
    const int64_t s = layer ? 0 : c;
    const acc_t M = layer ? acc_t(Cout * N) : acc_t(N);
    const acc_t m1 = (layer ? t1 : acc_t(sc[c]) * s1[c]) / M;
    const acc_t m2 = (layer ? t2 : acc_t(sc[c]) * s2[c]) / M;
    const acc_t r = rp[s], m = mp[s];
    // rstd * (scale*dz - m1 - (y - mean) * rstd * m2)
    k1[c] = T(r * sc[c]);
    k2[c] = T(-r * r * m2);
    k3[c] = T(r * (-m1 + m * r * m2));
  }
}

}  // namespace dyconv::cpu
