// Op schemas of the dyconv library and the Python module that loads them.
//
// Each forward op has a separate backward op. The kernels are registered per
// backend (cpu/, cuda/) with TORCH_LIBRARY_IMPL; autograd and fake kernels are
// registered from Python (dyconv/_autograd.py, dyconv/_fake.py).
#include <Python.h>
#include <torch/library.h>

extern "C" {
// `import dyconv._C` loads this shared library, which runs the registrations.
PyObject* PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
}

// `groups` means what it means for F.conv2d (weight (B, Cout, Cin / groups, kH, kW)); it
// comes last, with a default, so calls written before it existed still work.
TORCH_LIBRARY(dyconv, m) {
  m.def(
      "dynamic_conv2d(Tensor x, Tensor weight, Tensor? bias, int[2] stride, int[2] padding, "
      "int[2] dilation, int groups=1) -> Tensor");
  // Gradients that output_mask (x, weight, bias) does not ask for come back empty.
  m.def(
      "dynamic_conv2d_backward(Tensor grad_out, Tensor x, Tensor weight, int[2] stride, "
      "int[2] padding, int[2] dilation, bool[3] output_mask, int groups=1) -> (Tensor, Tensor, Tensor)");
  // Returns (out, conv_out, mean, rstd): conv_out is the pre-normalization
  // convolution output and mean/rstd the statistics, shape (B, G) with G = 1
  // ("layer"), Cout ("instance") or 0 ("none"); all three are for backward.
  m.def(
      "dynamic_conv_norm_act(Tensor x, Tensor weight, Tensor scale, Tensor shift, int[2] stride, "
      "int[2] padding, int[2] dilation, str norm, str activation, float eps, int groups=1) "
      "-> (Tensor, Tensor, Tensor, Tensor)");
  // Gradients that output_mask (x, weight, scale, shift) does not ask for come back empty.
  m.def(
      "dynamic_conv_norm_act_backward(Tensor grad_out, Tensor x, Tensor weight, Tensor scale, "
      "Tensor shift, Tensor conv_out, Tensor mean, Tensor rstd, int[2] stride, int[2] padding, "
      "int[2] dilation, str norm, str activation, bool[4] output_mask, int groups=1) "
      "-> (Tensor, Tensor, Tensor, Tensor)");
  // Per sample F.conv_transpose2d(x[b], weight[b], bias[b]); weight (B, Cin, Cout / groups, kH, kW).
  // It is the adjoint of dynamic_conv2d, so its gradients are dynamic_conv2d (for x) and
  // dynamic_conv2d_backward (for weight): no backward op of its own.
  m.def(
      "dynamic_conv_transpose2d(Tensor x, Tensor weight, Tensor? bias, int[2] stride, "
      "int[2] padding, int[2] output_padding, int[2] dilation, int groups=1) -> Tensor");
}
