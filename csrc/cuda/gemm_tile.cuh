// The shared-memory tiled GEMM main loop of the implicit-GEMM conv kernels.
//
// One block computes a BM x BN tile of C = A (M x K) * B (K x N) for one
// sample, over the reduction range [k_begin, k_end). A and B are never
// materialized: a Problem loads their elements straight from the conv
// tensors (im2col, the transposed filter bank, the output gradient...).
// Each k-step stages a BK-deep slice of both operands in shared memory
// (the next slice is fetched into registers while the current one is
// multiplied), and each thread accumulates a TM x TN register block.
//
// Problem interface (see conv_problems.cuh):
//   using T = storage type; static constexpr bool kAFastK, kBFastK;
//   ACtx a_ctx(int m) const;  Acc load_a(const ACtx&, int k) const;  // A(m, k)
//   BCtx b_ctx(int n) const;  Acc load_b(const BCtx&, int k) const;  // B(k, n)
// a_ctx/b_ctx run once per thread and load slot (m, n may be past the end:
// the loads then return 0); load_* only see k in [k_begin, k_end).
// kAFastK: consecutive threads load consecutive k of A (else consecutive m);
// the same for B. It is chosen per operand so that global loads coalesce.
#pragma once

#include "cuda/common.cuh"

namespace dyconv::cuda {

constexpr int BM = 64, BN = 64, BK = 16;  // block tile
constexpr int TM = 4, TN = 4;             // register block per thread
constexpr int TX = BN / TN, TY = BM / TM; // 16 x 16 threads
static_assert(TX * TY == kThreads, "one register block per thread");
static_assert(BM * BK == kThreads * 4 && BN * BK == kThreads * 4, "4 operand elements per thread");
constexpr int kLoads = 4;                 // elements of each operand a thread stages per k-step
static_assert(BM == BN, "one load-slot mapping serves both operands");

// Thread's accumulator (i, j) holds C(m0 + ty + TY * i, n0 + tx + TX * j).
__device__ __forceinline__ int tile_tx() { return int(threadIdx.x) % TX; }
__device__ __forceinline__ int tile_ty() { return int(threadIdx.x) / TX; }

// Which (row, k) of a BM x BK operand slice load slot r of this thread covers.
template <bool FastK>
__device__ __forceinline__ int slot_row(int tid, int r) {
  return FastK ? tid / BK + (kThreads / BK) * r : tid % BM;
}
template <bool FastK>
__device__ __forceinline__ int slot_k(int tid, int r) {
  return FastK ? tid % BK : tid / BM + (kThreads / BM) * r;
}

template <typename Problem, typename Acc>
__device__ __forceinline__ void gemm_tile(const Problem& p, int m0, int n0, int k_begin, int k_end,
                                          Acc (&acc)[TM][TN]) {
  DYCONV_SHARED(Acc, As, [BK][BM + 1]);  // +1: conflict-free transposed stores
  DYCONV_SHARED(Acc, Bs, [BK][BN + 1]);
  const int tid = int(threadIdx.x), tx = tile_tx(), ty = tile_ty();

  typename Problem::ACtx actx[kLoads];
  typename Problem::BCtx bctx[kLoads];
  for (int r = 0; r < kLoads; ++r) {
    actx[r] = p.a_ctx(m0 + slot_row<Problem::kAFastK>(tid, r));
    bctx[r] = p.b_ctx(n0 + slot_row<Problem::kBFastK>(tid, r));
  }
  for (int i = 0; i < TM; ++i)
    for (int j = 0; j < TN; ++j) acc[i][j] = Acc(0);

  Acc ra[kLoads], rb[kLoads];
  auto fetch = [&](int k0) {
    for (int r = 0; r < kLoads; ++r) {
      const int ka = k0 + slot_k<Problem::kAFastK>(tid, r);
      const int kb = k0 + slot_k<Problem::kBFastK>(tid, r);
      ra[r] = ka < k_end ? p.load_a(actx[r], ka) : Acc(0);
      rb[r] = kb < k_end ? p.load_b(bctx[r], kb) : Acc(0);
    }
  };
  fetch(k_begin);
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    for (int r = 0; r < kLoads; ++r) {
      As[slot_k<Problem::kAFastK>(tid, r)][slot_row<Problem::kAFastK>(tid, r)] = ra[r];
      Bs[slot_k<Problem::kBFastK>(tid, r)][slot_row<Problem::kBFastK>(tid, r)] = rb[r];
    }
    __syncthreads();
    if (k0 + BK < k_end) fetch(k0 + BK);  // in flight while this slice is multiplied
    for (int kk = 0; kk < BK; ++kk) {
      Acc a[TM], b[TN];
      for (int i = 0; i < TM; ++i) a[i] = As[kk][ty + TY * i];
      for (int j = 0; j < TN; ++j) b[j] = Bs[kk][tx + TX * j];
      for (int i = 0; i < TM; ++i)
        for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
}

}  // namespace dyconv::cuda
