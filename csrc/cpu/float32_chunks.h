// bfloat16 and float16 on the CPU: the float32 kernels, run over chunks of samples.
//
// A 16-bit op converts each chunk's per-sample inputs (x, weight, bias, grad_out, ...) to
// float32, runs the float32 kernel on the chunk's geometry and rounds its outputs once into
// the 16-bit outputs: float32 accumulation, results in the input's dtype, the contract of the
// CUDA kernels' 16-bit path. Weight, bias and norm gradients are per sample, so a chunk is a
// problem of its own and nothing is summed across chunks.
//
// Chunks of samples rather than a conversion inside every engine's packing (im2col tiles,
// shifted and Winograd buffers, stride phases, depthwise lanes, forward and backward each):
// - one conversion for all engines and both directions, instead of a 16-bit load in each
//   packing loop and its vector variants, and no second set of engine code to keep exact;
// - bounded memory: a chunk is about kChunkBytesPerThread of float32 input per thread (at
//   least one sample per thread), never a float32 copy of the whole batch;
// - cache: a chunk is converted right before the engine reads it, while it is in cache where
//   it fits; the conversion passes cost about what they cost inside the packing would;
// - exactness: the result is the float32 op's on the converted inputs, rounded once (tested
//   bitwise). The chunks are cut so that the engines plan each the way they plan the whole
//   batch: a batch whose samples the engines split between threads (splits_samples: small and
//   not a multiple of the threads) runs as one chunk, any other in chunks of a multiple of the
//   threads, the last one taking the rest where the rest alone would be split. One difference
//   is left: on a batch of at least 8 samples per thread that is not a multiple of the threads,
//   the im2col engine's backward sums the weight and input gradients of the sample its threads
//   share (cpu/conv_engine.h) in another order than the chunks do; float32 rounding, no more.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "checks.h"
#include "cpu/engines.h"
#include "huge_pages.h"

namespace dyconv::cpu {

// Whether x takes this path: a 16-bit floating dtype (checks.cpp admits no other besides float32
// and float64).
inline bool is_16_bit(const at::Tensor& x) {
  return x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf;
}

namespace float32_chunks_detail {

// float32 input per thread per chunk: the L2 cache of a core on the machines measured.
constexpr int64_t kChunkBytesPerThread = int64_t(2) << 20;

// Samples of the chunk that starts at b0 (see the top of this file). Folded samples (B * groups)
// are what the engines plan with.
inline int64_t chunk_samples(const ConvGeometry& g, int64_t per_sample_bytes, int64_t b0) {
  const int64_t threads = at::get_num_threads(), rest = g.B - b0;
  if (splits_samples(g.B * g.groups, threads)) return rest;
  const int64_t fit = kChunkBytesPerThread * threads / std::max<int64_t>(1, per_sample_bytes);
  const int64_t n = std::max<int64_t>(1, fit / threads) * threads;
  if (rest <= n || splits_samples((rest - n) * g.groups, threads)) return rest;
  return n;
}

// The 16-bit output for the per-sample float32 output `part` of a chunk: its sizes with the
// whole batch, its strides (dimension 0 outermost), the dtype of x.
inline at::Tensor new_output_like(const at::Tensor& part, int64_t B, const at::Tensor& x) {
  std::vector<int64_t> sizes(part.sizes().begin(), part.sizes().end());
  std::vector<int64_t> strides(part.strides().begin(), part.strides().end());
  sizes[0] = B;
  strides[0] = part.numel() / std::max<int64_t>(1, part.size(0));
  at::Tensor t = at::empty_strided(sizes, strides, x.options());
  advise_huge_pages(t.data_ptr(), t.nbytes());
  return t;
}

}  // namespace float32_chunks_detail

// kernel(chunk geometry, float32 inputs) -> float32 outputs, on checked inputs: `inputs` are the
// op's per-sample tensors (batch first; undefined for an absent optional one) and g their
// geometry. Returns the outputs in x's (inputs[0]'s) dtype. Outputs of two or more dimensions
// are per sample; others (the (0,) placeholder of a gradient not asked for) are returned empty.
template <typename Kernel>
std::vector<at::Tensor> in_float32_chunks(const ConvGeometry& g, const std::vector<at::Tensor>& inputs,
                                          Kernel&& kernel) {
  using namespace float32_chunks_detail;
  const at::Tensor& x = inputs[0];
  int64_t per_sample_bytes = 0;
  for (const at::Tensor& t : inputs)
    if (t.defined() && g.B > 0) per_sample_bytes += t.numel() / g.B * int64_t(sizeof(float));
  std::vector<at::Tensor> outputs;
  int64_t b0 = 0;
  do {  // once at least: a batch of 0 has outputs too
    const int64_t n = chunk_samples(g, per_sample_bytes, b0);
    std::vector<at::Tensor> chunk;
    for (const at::Tensor& t : inputs) chunk.push_back(t.defined() ? t.narrow(0, b0, n).to(at::kFloat) : t);
    ConvGeometry cg = g;
    cg.B = n;
    const std::vector<at::Tensor> parts = kernel(cg, chunk);
    if (outputs.empty()) {
      for (const at::Tensor& p : parts)
        outputs.push_back(p.dim() >= 2 ? new_output_like(p, g.B, x) : at::empty({0}, x.options()));
    }
    for (size_t i = 0; i < parts.size(); ++i)
      if (parts[i].dim() >= 2) outputs[i].narrow(0, b0, n).copy_(parts[i]);
    b0 += n;
  } while (b0 < g.B);
  return outputs;
}

}  // namespace dyconv::cpu
