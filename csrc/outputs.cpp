#include "outputs.h"

#include <ATen/ATen.h>

#include "huge_pages.h"

namespace dyconv {

at::Tensor new_output(const at::Tensor& x, c10::IntArrayRef sizes) {
  at::Tensor t = at::empty(sizes, x.options());
  if (t.is_cpu()) advise_huge_pages(t.data_ptr(), t.nbytes());
  return t;
}

at::Tensor new_output_in_format_of(const at::Tensor& x, c10::IntArrayRef sizes) {
  if (sizes.size() != 4 || !gives_channels_last(x)) return new_output(x, sizes);
  at::Tensor t = at::empty(sizes, x.options().memory_format(at::MemoryFormat::ChannelsLast));
  if (t.is_cpu()) advise_huge_pages(t.data_ptr(), t.nbytes());
  return t;
}

at::Tensor new_grad(bool wanted, const at::Tensor& x, c10::IntArrayRef sizes) {
  return wanted ? new_output(x, sizes) : x.new_empty({0});
}

bool gives_channels_last(const at::Tensor& x) {
  return x.dim() == 4 && x.suggest_memory_format() == at::MemoryFormat::ChannelsLast;
}

at::Tensor in_format_of(const at::Tensor& x, const at::Tensor& t) {
  if (t.dim() != 4 || !gives_channels_last(x)) return t;
  return t.contiguous(at::MemoryFormat::ChannelsLast);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> new_norm_act_outputs(
    const ConvGeometry& g, Norm norm, const at::Tensor& x) {
  const int64_t G = stat_groups(norm, g.Cout);
  return {new_output(x, {g.B, g.Cout, g.Hout, g.Wout}), new_output(x, {g.B, g.Cout, g.Hout, g.Wout}),
          new_output(x, {g.B, G}), new_output(x, {g.B, G})};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> new_conv_grads(
    const ConvGeometry& g, const at::Tensor& x, std::array<bool, 3> mask) {
  return {new_grad(mask[0], x, {g.B, g.Cin, g.H, g.W}),
          new_grad(mask[1], x, {g.B, g.Cout, g.Cin / g.groups, g.kH, g.kW}), new_grad(mask[2], x, {g.B, g.Cout})};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> new_norm_act_grads(
    const ConvGeometry& g, const at::Tensor& x, std::array<bool, 4> mask) {
  const auto [dx, dw, dscale] = new_conv_grads(g, x, {mask[0], mask[1], mask[2]});
  return {dx, dw, dscale, new_grad(mask[3], x, {g.B, g.Cout})};
}

}  // namespace dyconv
