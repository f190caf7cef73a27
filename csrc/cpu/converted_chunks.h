// bfloat16 and float16, and channels_last inputs, on the CPU: the NCHW float32 / float64 kernels,
// run over chunks of samples.
//
// A 16-bit op converts each chunk's per-sample inputs (x, weight, bias, grad_out, ...) to
// float32, runs the float32 kernel on the chunk's geometry and rounds its outputs once into
// the 16-bit outputs: float32 accumulation, results in the input's dtype, the contract of the
// CUDA kernels' 16-bit path. Weight, bias and norm gradients are per sample, so a chunk is a
// problem of its own and nothing is summed across chunks.
//
// A channels_last x (any dtype) takes the same path: each chunk is transposed into an NCHW
// workspace (with the 16-bit conversion in the same pass), and the op's main output (the output,
// or the input gradient) is written back channels_last, chunk by chunk: PyTorch's memory format
// kept without a whole-batch NCHW copy on the way in and another on the way out. Inputs already
// NCHW in the compute dtype are read in place, not copied.
//
// Chunks of samples rather than a conversion inside every engine's packing (im2col tiles,
// shifted and Winograd buffers, stride phases, depthwise lanes, forward and backward each):
// - one conversion for all engines and both directions, instead of a 16-bit or NHWC load in
//   each packing loop and its vector variants, and no second set of engine code to keep exact;
// - bounded memory: a chunk is about kChunkBytesPerThread of compute-dtype input per thread (at
//   least one sample per thread), never a converted copy of the whole batch;
// - cache: a chunk is converted right before the engine reads it, while it is in cache where
//   it fits; the conversion passes cost about what they cost inside the packing would;
// - exactness: the result is the NCHW op's on the converted inputs, rounded once (tested
//   bitwise for 16 bits). The chunks are cut so that the engines plan each the way they plan the whole
//   batch: a batch whose samples the engines split between threads (splits_samples: small and
//   not a multiple of the threads) runs as one chunk, any other in chunks of a multiple of the
//   threads, the last one taking the rest where the rest alone would be split. Two differences
//   of float32 rounding are left, where chunks give a sample to another thread than the whole
//   batch does: on a batch of at least 8 samples per thread that is not a multiple of the
//   threads, the im2col backward sums the gradients of the sample two threads share
//   (cpu/conv_engine.h) in another order; and MKL's sgemm can round differently on different
//   threads of the pool once torch.set_num_threads changed in the process (seen on the 1x1
//   im2col weight gradient; not with MKL_CBWR=AVX512,STRICT).
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "checks.h"
#include "cpu/engines.h"
#include "outputs.h"

namespace dyconv::cpu {

// Whether x is 16-bit (checks.cpp admits no other floating dtype besides float32 and float64).
inline bool is_16_bit(const at::Tensor& x) {
  return x.scalar_type() == at::kBFloat16 || x.scalar_type() == at::kHalf;
}

// Whether x takes this path: 16-bit, or channels_last (outputs.h).
inline bool takes_converted_chunks(const at::Tensor& x) { return is_16_bit(x) || gives_channels_last(x); }

namespace converted_chunks_detail {

// Compute-dtype input per thread per chunk: a core's L2 cache on Sapphire Rapids. On one thread (fwd + bwd,
// 32->32 at 32x32 and 64->64 at 16x16, B 64 and 128, loaded machine) 2 MiB ran at 1.01-1.05x float32's time,
// 256-512 KiB at 0.90-1.02x, 8 MiB at 1.13-1.21x (the chunk out of cache); on two threads of a loaded machine
// the larger chunks ran faster (fewer parallel regions to wait in).
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

// Samples [s0, s1) of t (dense, samples outermost: contiguous or channels_last) as a tensor of
// their own: no view, so no autograd or view bookkeeping when a worker thread makes it.
inline at::Tensor samples_of(const at::Tensor& t, int64_t s0, int64_t s1) {
  std::vector<int64_t> sizes(t.sizes().begin(), t.sizes().end());
  sizes[0] = s1 - s0;
  char* data = static_cast<char*>(const_cast<void*>(t.const_data_ptr()));
  return at::from_blob(data + s0 * t.stride(0) * t.element_size(), sizes, t.strides(), t.options());
}

// One conversion: samples [src_b0, src_b0 + n) of src into samples [dst_b0, ...) of dst, in another
// dtype, memory format or both; neither empty.
struct Conversion {
  at::Tensor dst;
  int64_t dst_b0;
  at::Tensor src;
  int64_t src_b0;
};

// All conversions in one parallel region over the n samples, each thread converting its samples of
// every tensor with ATen's copy (serial inside the region, vectorized, torch's rounding): a
// region per tensor and chunk costs more than the conversion where threads wait on each other.
// A change of memory format is the same 4-D strided copy: per sample as 2-D transposes (ATen's
// cache-blocked copy_transpose) it took 3x as long on paper layer 3's activations.
inline void convert(const std::vector<Conversion>& conversions, int64_t n) {
  at::parallel_for(0, n, 1, [&](int64_t s0, int64_t s1) {
    for (const Conversion& c : conversions)
      samples_of(c.dst, c.dst_b0 + s0, c.dst_b0 + s1).copy_(samples_of(c.src, c.src_b0 + s0, c.src_b0 + s1));
  });
}

// The whole-batch output for the per-sample output `part` of a chunk (NCHW, samples outermost):
// its sizes with the whole batch, x's dtype, and x's memory format where `follows_x`.
inline at::Tensor new_output_like(const at::Tensor& part, int64_t B, const at::Tensor& x, bool follows_x) {
  std::vector<int64_t> sizes(part.sizes().begin(), part.sizes().end());
  sizes[0] = B;
  return follows_x ? new_output_in_format_of(x, sizes) : new_output(x, sizes);
}

}  // namespace converted_chunks_detail

// kernel(geometry, inputs) -> outputs, the NCHW float32 / float64 kernel, on checked inputs: `inputs`
// are the op's per-sample tensors (batch first; undefined for an absent optional one) and g their
// geometry. An x (inputs[0]) in float32 or float64 that is not channels_last goes to the kernel as
// it is, all in one call. Any other x runs it over chunks of samples, with NCHW inputs in the
// compute dtype (float32 for a 16-bit x, else x's), and gets the outputs in x's dtype: the first one
// (the op's output, or the input gradient) in x's memory format, the others NCHW. The kernel's
// outputs of two or more dimensions are per sample, NCHW; others (the (0,) placeholder of a gradient
// not asked for) come back empty.
template <typename Kernel>
std::vector<at::Tensor> in_converted_chunks(const ConvGeometry& g, const std::vector<at::Tensor>& inputs,
                                            Kernel&& kernel) {
  using namespace converted_chunks_detail;
  const at::Tensor& x = inputs[0];
  if (!takes_converted_chunks(x)) return kernel(g, inputs);
  const at::ScalarType compute = is_16_bit(x) ? at::kFloat : x.scalar_type();
  const int64_t compute_size = at::elementSize(compute);
  std::vector<int64_t> chunks;
  int64_t per_sample_bytes = 0;
  for (const at::Tensor& t : inputs)
    if (t.defined() && g.B > 0) per_sample_bytes += t.numel() / g.B * compute_size;
  for (int64_t b0 = 0; b0 < g.B || chunks.empty(); b0 += chunks.back())  // one chunk at least: B = 0 has outputs
    chunks.push_back(chunk_samples(g, per_sample_bytes, b0));
  const int64_t most = *std::max_element(chunks.begin(), chunks.end());
  // The inputs dense with the samples outermost (as they come, but for odd strides), and for each
  // one not already NCHW in the compute dtype, an NCHW workspace of a chunk of it.
  std::vector<at::Tensor> sources, workspaces;
  for (const at::Tensor& t : inputs) {
    if (!t.defined()) {
      sources.push_back(t), workspaces.push_back(t);
      continue;
    }
    sources.push_back(t.contiguous(t.suggest_memory_format()));
    if (t.scalar_type() == compute && sources.back().is_contiguous()) {
      workspaces.emplace_back();  // read in place
      continue;
    }
    std::vector<int64_t> sizes(t.sizes().begin(), t.sizes().end());
    sizes[0] = most;
    workspaces.push_back(at::empty(sizes, t.options().dtype(compute)));
  }
  std::vector<at::Tensor> outputs;
  int64_t b0 = 0;
  for (const int64_t n : chunks) {
    std::vector<Conversion> in;
    std::vector<at::Tensor> chunk;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].defined()) {
        chunk.push_back(inputs[i]);
      } else if (!workspaces[i].defined()) {
        chunk.push_back(samples_of(sources[i], b0, b0 + n));
      } else {
        chunk.push_back(workspaces[i].narrow(0, 0, n));
        if (sources[i].numel() > 0) in.push_back({workspaces[i], 0, sources[i], b0});
      }
    }
    convert(in, n);
    ConvGeometry cg = g;
    cg.B = n;
    const std::vector<at::Tensor> parts = kernel(cg, chunk);
    if (outputs.empty()) {
      for (size_t i = 0; i < parts.size(); ++i)
        outputs.push_back(parts[i].dim() >= 2 ? new_output_like(parts[i], g.B, x, i == 0)
                                              : at::empty({0}, x.options()));
    }
    std::vector<Conversion> out;
    for (size_t i = 0; i < parts.size(); ++i)
      if (parts[i].dim() >= 2 && parts[i].numel() > 0) out.push_back({outputs[i], b0, parts[i], 0});
    convert(out, n);
    b0 += n;
  }
  return outputs;
}

}  // namespace dyconv::cpu
