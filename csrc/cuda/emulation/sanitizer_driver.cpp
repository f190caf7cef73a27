// Standalone driver of the emulated CUDA launchers for the sanitizer builds
// (tests/test_cuda_sanitizers.py builds it with -fsanitize=thread and with
// -fsanitize=address,undefined together with the kernel sources):
//   g++ -x c++ -DDYCONV_CUDA_EMULATION -Icsrc csrc/cuda/*.cu -x none csrc/cuda/emulation/sanitizer_driver.cpp
// It allocates every buffer itself, exactly sized (so ASan sees a store past
// an output), runs all the ops forward and backward on small odd shapes
// (partial tiles, stride, dilation wider than the input, split-K weight
// gradient, B = 1, channel groups, depthwise with and without a channel
// multiplier, the transposed conv with output padding) and compares every
// output with a direct float64 convolution and normalization computed here. Outputs and workspaces start
// as 0xff bytes (NaN), so an element a kernel fails to write is an error too.
// Prints one line per check; exits 1 when a value is off or a launch fails
// (the sanitizers exit on their own reports). It first checks that the
// emulator fails the launches a GPU would fail or hang on (its messages on
// stderr are expected there).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cuda/launchers.h"

using namespace dyconv::cuda;

namespace {

// ---------------------------------------------------------------- storage types

double to_d(float v) { return v; }
double to_d(double v) { return v; }
double to_d(half_t v) { return to_float(v); }
double to_d(bf16_t v) { return to_float(v); }

template <typename T> T from_d(double v);
template <> float from_d<float>(double v) { return float(v); }
template <> double from_d<double>(double v) { return v; }
template <> half_t from_d<half_t>(double v) { return float_to_half(float(v)); }
template <> bf16_t from_d<bf16_t>(double v) { return float_to_bf16(float(v)); }

template <typename T> struct Info;
template <> struct Info<float> { static constexpr DType dtype = DType::Float32; static constexpr const char* name = "float32"; static constexpr double tol = 1e-4; };
template <> struct Info<double> { static constexpr DType dtype = DType::Float64; static constexpr const char* name = "float64"; static constexpr double tol = 1e-9; };
template <> struct Info<half_t> { static constexpr DType dtype = DType::Float16; static constexpr const char* name = "float16"; static constexpr double tol = 5e-3; };
template <> struct Info<bf16_t> { static constexpr DType dtype = DType::BFloat16; static constexpr const char* name = "bfloat16"; static constexpr double tol = 3e-2; };

// A buffer of exactly n elements, every byte 0xff (NaN in each float type).
template <typename T>
std::vector<T> garbage(size_t n) {
  std::vector<T> v(n);
  if (n) std::memset(static_cast<void*>(v.data()), 0xff, n * sizeof(T));
  return v;
}

template <typename T>
T* ptr(std::vector<T>& v) { return v.empty() ? nullptr : v.data(); }

// Deterministic values in [-1, 1) (xorshift64*).
struct Rng {
  uint64_t s;
  double next() {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return double((s * 2685821657736338717ull) >> 11) / double(1ull << 52) - 1.0;
  }
};

// Random storage values and the float64 copy of what was stored.
template <typename T>
struct Input {
  std::vector<T> stored;
  std::vector<double> exact;
  Input(size_t n, Rng& rng, double scale, double offset) : stored(n), exact(n) {
    for (size_t i = 0; i < n; ++i) {
      stored[i] = from_d<T>(offset + scale * rng.next());
      exact[i] = to_d(stored[i]);
    }
  }
};

// ---------------------------------------------------------------- the float64 reference

struct Shape {
  const char* name;
  int B, Cin, Cout, H, W, kH, kW, sH, sW, pH, pW, dH, dW;
  int groups = 1;
  ConvDims dims() const {
    const int Hout = (H + 2 * pH - dH * (kH - 1) - 1) / sH + 1;
    const int Wout = (W + 2 * pW - dW * (kW - 1) - 1) / sW + 1;
    return {B, Cin, H, W, Cout, kH, kW, sH, sW, pH, pW, dH, dW, Hout, Wout, groups};
  }
};

size_t in_elems(const ConvDims& d) { return size_t(d.B) * d.Cin * d.H * d.W; }
size_t weight_elems(const ConvDims& d) { return size_t(d.B) * d.Cout * (d.Cin / d.groups) * d.kH * d.kW; }
double weight_scale(const ConvDims& d) { return 1 / std::sqrt(double(d.Cin / d.groups * d.kH * d.kW)); }

// Calls f(x index, w index, y index) for every multiply-add of the convolution
// (output channel co reads the input channels of its group).
template <typename F>
void for_each_tap(const ConvDims& d, F&& f) {
  const int Cin_g = d.Cin / d.groups, Cout_g = d.Cout / d.groups;
  for (int b = 0; b < d.B; ++b)
    for (int co = 0; co < d.Cout; ++co)
      for (int oh = 0; oh < d.Hout; ++oh)
        for (int ow = 0; ow < d.Wout; ++ow)
          for (int ci = 0; ci < Cin_g; ++ci)
            for (int kh = 0; kh < d.kH; ++kh)
              for (int kw = 0; kw < d.kW; ++kw) {
                const int ih = oh * d.sH - d.pH + kh * d.dH, iw = ow * d.sW - d.pW + kw * d.dW;
                if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
                const int c = co / Cout_g * Cin_g + ci;
                const size_t xi = ((size_t(b) * d.Cin + c) * d.H + ih) * d.W + iw;
                const size_t wi = (((size_t(b) * d.Cout + co) * Cin_g + ci) * d.kH + kh) * d.kW + kw;
                const size_t yi = ((size_t(b) * d.Cout + co) * d.Hout + oh) * d.Wout + ow;
                f(xi, wi, yi);
              }
}

size_t out_elems(const ConvDims& d) { return size_t(d.B) * d.Cout * d.Hout * d.Wout; }

std::vector<double> conv(const ConvDims& d, const std::vector<double>& x,
                         const std::vector<double>& w, const std::vector<double>* bias) {
  std::vector<double> y(out_elems(d), 0.0);
  const size_t N = size_t(d.Hout) * d.Wout;
  if (bias)
    for (size_t i = 0; i < y.size(); ++i) y[i] = (*bias)[i / N];
  for_each_tap(d, [&](size_t xi, size_t wi, size_t yi) { y[yi] += x[xi] * w[wi]; });
  return y;
}

struct ConvGrads {
  std::vector<double> dx, dw, db;
};

ConvGrads conv_backward(const ConvDims& d, const std::vector<double>& g,
                        const std::vector<double>& x, const std::vector<double>& w) {
  ConvGrads r{std::vector<double>(x.size(), 0.0), std::vector<double>(w.size(), 0.0),
              std::vector<double>(size_t(d.B) * d.Cout, 0.0)};
  for_each_tap(d, [&](size_t xi, size_t wi, size_t yi) {
    r.dx[xi] += w[wi] * g[yi];
    r.dw[wi] += x[xi] * g[yi];
  });
  const size_t N = size_t(d.Hout) * d.Wout;
  for (size_t i = 0; i < g.size(); ++i) r.db[i / N] += g[i];
  return r;
}

double act_f(double z, ActKind a) {
  if (a == ActKind::Relu) return z > 0 ? z : 0;
  if (a == ActKind::Sigmoid) return 1 / (1 + std::exp(-z));
  return z;
}
double act_grad(double z, ActKind a) {
  if (a == ActKind::Relu) return z > 0 ? 1 : 0;
  if (a == ActKind::Sigmoid) {
    const double s = 1 / (1 + std::exp(-z));
    return s * (1 - s);
  }
  return 1;
}

// Normalization of conv output y: group of row bc, per-group mean/rstd, xhat.
struct Norm {
  std::vector<double> mean, rstd, xhat;  // mean/rstd per group
  int groups;
  size_t group_of(size_t bc, int Cout) const { return groups == 0 ? 0 : (groups == 1 ? bc / Cout : bc); }
};

Norm normalize(const ConvDims& d, const std::vector<double>& y, NormKind norm, double eps) {
  const size_t N = size_t(d.Hout) * d.Wout;
  Norm r{{}, {}, y, norm == NormKind::Layer ? 1 : (norm == NormKind::Instance ? d.Cout : 0)};
  if (norm == NormKind::None) return r;
  const size_t G = size_t(d.B) * r.groups, per = y.size() / G;
  r.mean.assign(G, 0.0), r.rstd.assign(G, 0.0);
  for (size_t g = 0; g < G; ++g) {
    double s = 0, q = 0;
    for (size_t i = g * per; i < (g + 1) * per; ++i) s += y[i];
    const double mu = s / double(per);
    for (size_t i = g * per; i < (g + 1) * per; ++i) q += (y[i] - mu) * (y[i] - mu);
    r.mean[g] = mu, r.rstd[g] = 1 / std::sqrt(q / double(per) + eps);
  }
  for (size_t i = 0; i < y.size(); ++i) {
    const size_t g = r.group_of(i / N, d.Cout);
    r.xhat[i] = (y[i] - r.mean[g]) * r.rstd[g];
  }
  return r;
}

// ---------------------------------------------------------------- checks

int checks = 0, failures = 0;

template <typename T>
void expect(const char* what, const std::string& tag, const std::vector<T>& got,
            const std::vector<double>& want) {
  ++checks;
  double scale = 1.0, err = 0.0;
  bool nan = got.size() != want.size();
  for (size_t i = 0; i < want.size() && !nan; ++i) {
    const double g = to_d(got[i]);
    if (std::isnan(g)) nan = true;
    scale = std::max(scale, std::fabs(want[i]));
    err = std::max(err, std::fabs(g - want[i]));
  }
  const bool ok = !nan && err <= Info<T>::tol * scale;
  if (!ok) ++failures;
  std::printf("%s %-56s %-8s max error %.3g (tolerance %.3g)%s\n", ok ? "ok  " : "FAIL", tag.c_str(),
              what, nan ? NAN : err / scale, Info<T>::tol, nan ? ", elements unwritten (NaN)" : "");
}

bool launched(cudaError_t rc, const std::string& tag, const char* launcher) {
  if (rc == cudaSuccess) return true;
  ++checks, ++failures;
  std::printf("FAIL %-56s %s returned cudaError %d\n", tag.c_str(), launcher, int(rc));
  return false;
}

const char* norm_name(NormKind n) {
  return n == NormKind::Layer ? "layer" : n == NormKind::Instance ? "instance" : "none";
}
const char* act_name(ActKind a) {
  return a == ActKind::Relu ? "relu" : a == ActKind::Sigmoid ? "sigmoid" : "none";
}

// dynamic_conv2d forward (with bias) and backward (dx, dweight, dbias).
template <typename T>
void check_conv2d(const Shape& s, uint64_t seed) {
  const ConvDims d = s.dims();
  const std::string tag = std::string("conv2d ") + s.name + " " + Info<T>::name;
  Rng rng{seed};
  const size_t nx = in_elems(d), nw = weight_elems(d);
  const double wscale = weight_scale(d);
  Input<T> x(nx, rng, 1, 0), w(nw, rng, wscale, 0), bias(size_t(d.B) * d.Cout, rng, 1, 0),
      g(out_elems(d), rng, 1, 0);
  auto y = garbage<T>(out_elems(d));
  if (launched(conv2d_forward(Info<T>::dtype, d, x.stored.data(), w.stored.data(),
                              bias.stored.data(), y.data(), nullptr), tag, "conv2d_forward"))
    expect("y", tag, y, conv(d, x.exact, w.exact, &bias.exact));
  auto dx = garbage<T>(nx), dw = garbage<T>(nw), db = garbage<T>(size_t(d.B) * d.Cout);
  auto ws = garbage<unsigned char>(std::max<size_t>(conv_backward_workspace_bytes(Info<T>::dtype, d), 1));
  if (launched(conv2d_backward(Info<T>::dtype, d, g.stored.data(), x.stored.data(), w.stored.data(),
                               dx.data(), dw.data(), db.data(), ws.data(), nullptr),
               tag, "conv2d_backward")) {
    const ConvGrads r = conv_backward(d, g.exact, x.exact, w.exact);
    expect("dx", tag, dx, r.dx), expect("dweight", tag, dw, r.dw), expect("dbias", tag, db, r.db);
  }
}

// dynamic_conv_norm_act forward (out, conv_out, mean, rstd) and backward (all four gradients).
template <typename T>
void check_fused(const Shape& s, NormKind norm, ActKind act, uint64_t seed) {
  const ConvDims d = s.dims();
  const std::string tag = std::string("fused ") + s.name + " " + norm_name(norm) + "/" +
                          act_name(act) + " " + Info<T>::name;
  const double eps = 1e-5;
  Rng rng{seed};
  const size_t nx = in_elems(d), nw = weight_elems(d);
  const size_t rows = size_t(d.B) * d.Cout, ny = out_elems(d), N = size_t(d.Hout) * d.Wout;
  const double wscale = weight_scale(d);
  Input<T> x(nx, rng, 1, 0), w(nw, rng, wscale, 0), scale(rows, rng, 0.5, 1), shift(rows, rng, 0.5, 0),
      g(ny, rng, 1, 0);

  // float64 forward and backward
  const std::vector<double> y = conv(d, x.exact, w.exact, nullptr);
  const Norm nm = normalize(d, y, norm, eps);
  std::vector<double> out(ny), dz(ny), dscale(rows, 0.0), dshift(rows, 0.0), dy(ny);
  for (size_t i = 0; i < ny; ++i) {
    const size_t bc = i / N;
    const double z = nm.xhat[i] * scale.exact[bc] + shift.exact[bc];
    out[i] = act_f(z, act);
    dz[i] = g.exact[i] * act_grad(z, act);
    dshift[bc] += dz[i], dscale[bc] += dz[i] * nm.xhat[i];
  }
  if (norm == NormKind::None) {
    for (size_t i = 0; i < ny; ++i) dy[i] = dz[i] * scale.exact[i / N];
  } else {  // dy = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) over each group
    const size_t G = size_t(d.B) * nm.groups, per = ny / G;
    for (size_t gi = 0; gi < G; ++gi) {
      double m1 = 0, m2 = 0;
      for (size_t i = gi * per; i < (gi + 1) * per; ++i) {
        const double dxh = dz[i] * scale.exact[i / N];
        m1 += dxh, m2 += dxh * nm.xhat[i];
      }
      m1 /= double(per), m2 /= double(per);
      for (size_t i = gi * per; i < (gi + 1) * per; ++i)
        dy[i] = nm.rstd[gi] * (dz[i] * scale.exact[i / N] - m1 - nm.xhat[i] * m2);
    }
  }
  const ConvGrads r = conv_backward(d, dy, x.exact, w.exact);

  // the kernels
  const size_t G = size_t(d.B) * nm.groups;
  auto o = garbage<T>(ny), yc = garbage<T>(ny), mean = garbage<T>(G), rstd = garbage<T>(G);
  auto fws = garbage<unsigned char>(
      std::max<size_t>(conv_norm_act_forward_workspace_bytes(Info<T>::dtype, d, norm), 1));
  if (!launched(conv_norm_act_forward(Info<T>::dtype, d, x.stored.data(), w.stored.data(),
                                      scale.stored.data(), shift.stored.data(), norm, act, eps,
                                      o.data(), yc.data(), ptr(mean), ptr(rstd), fws.data(), nullptr),
                tag, "conv_norm_act_forward"))
    return;
  expect("out", tag, o, out), expect("conv_out", tag, yc, y);
  if (norm != NormKind::None) expect("mean", tag, mean, nm.mean), expect("rstd", tag, rstd, nm.rstd);
  auto dx = garbage<T>(nx), dw = garbage<T>(nw), dsc = garbage<T>(rows), dsh = garbage<T>(rows);
  auto bws = garbage<unsigned char>(std::max<size_t>(conv_backward_workspace_bytes(Info<T>::dtype, d), 1));
  if (!launched(conv_norm_act_backward(Info<T>::dtype, d, g.stored.data(), x.stored.data(),
                                       w.stored.data(), scale.stored.data(), shift.stored.data(),
                                       yc.data(), ptr(mean), ptr(rstd), norm, act, dx.data(),
                                       dw.data(), dsc.data(), dsh.data(), bws.data(), nullptr),
                tag, "conv_norm_act_backward"))
    return;
  expect("dx", tag, dx, r.dx), expect("dweight", tag, dw, r.dw);
  expect("dscale", tag, dsc, dscale), expect("dshift", tag, dsh, dshift);
}

// dynamic_conv_transpose2d forward: the transposed conv of s (its x has the shape of s's output,
// its output the shape of s's input), with bias; the float64 value is s's dx with dy := x, plus bias.
template <typename T>
void check_transpose(const Shape& s, uint64_t seed) {
  const ConvDims d = s.dims();
  const std::string tag = std::string("conv_transpose2d ") + s.name + " " + Info<T>::name;
  Rng rng{seed};
  const size_t ny = in_elems(d), HW = size_t(d.H) * d.W;
  Input<T> x(out_elems(d), rng, 1, 0), w(weight_elems(d), rng, weight_scale(d), 0),
      bias(size_t(d.B) * d.Cin, rng, 1, 0);
  auto y = garbage<T>(ny);
  if (!launched(conv_transpose2d_forward(Info<T>::dtype, d, x.stored.data(), w.stored.data(),
                                         bias.stored.data(), y.data(), nullptr),
                tag, "conv_transpose2d_forward"))
    return;
  std::vector<double> want = conv_backward(d, x.exact, std::vector<double>(ny, 0.0), w.exact).dx;
  for (size_t i = 0; i < ny; ++i) want[i] += bias.exact[i / HW];
  expect("y", tag, y, want);
}

// ---------------------------------------------------------------- the emulator's own launch checks

void barrier_in_divergent_code(int* out) {
  if (threadIdx.x < 32) __syncthreads();  // a hang or undefined behaviour on a GPU
  out[threadIdx.x] = 1;
}

void too_much_shared_memory(int* out) {
  DYCONV_EMU_SHARED(float, big, [13 * 1024]);  // 52 KiB > 48 KiB of static shared memory
  big[threadIdx.x] = 1.0f;
  out[threadIdx.x] = int(big[threadIdx.x]);
}

void expect_launch_error(const char* what, cudaError_t got, cudaError_t want) {
  ++checks;
  const bool ok = got == want;
  if (!ok) ++failures;
  std::printf("%s emulator rejects %-39s cudaError %d (expected %d)\n", ok ? "ok  " : "FAIL", what,
              int(got), int(want));
}

void check_emulator_launch_checks() {
  std::vector<int> out(64, 0);
  int* o = out.data();
  expect_launch_error("a barrier in divergent code",
                      launch_kernel(barrier_in_divergent_code, dim3(2), dim3(64), nullptr, o),
                      cudaErrorLaunchFailure);
  expect_launch_error("52 KiB of static shared memory",
                      launch_kernel(too_much_shared_memory, dim3(1), dim3(64), nullptr, o),
                      cudaErrorInvalidValue);
  expect_launch_error("1025 threads per block",
                      launch_kernel(too_much_shared_memory, dim3(1), dim3(1025), nullptr, o),
                      cudaErrorInvalidConfiguration);
  expect_launch_error("blockDim.z = 65",
                      launch_kernel(too_much_shared_memory, dim3(1), dim3(1, 1, 65), nullptr, o),
                      cudaErrorInvalidConfiguration);
  expect_launch_error("gridDim.y = 65536",
                      launch_kernel(too_much_shared_memory, dim3(1, 65536), dim3(32), nullptr, o),
                      cudaErrorInvalidConfiguration);
}

}  // namespace

int main() {
  check_emulator_launch_checks();
  // name, B, Cin, Cout, H, W, kH, kW, sH, sW, pH, pW, dH, dW
  const Shape b1{"b1_3x3", 1, 3, 5, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1};
  const Shape cout70{"b2_cout70_dilation2x3", 2, 2, 70, 9, 11, 3, 2, 1, 1, 2, 1, 2, 3};
  const Shape stride2{"stride2", 2, 5, 3, 11, 8, 3, 3, 2, 2, 1, 1, 1, 1};
  const Shape splitk{"b1_cin67_stride1x2_splitk", 1, 67, 6, 12, 20, 1, 3, 1, 2, 0, 1, 1, 1};
  const Shape wide{"b3_dilation_wider_than_input", 3, 3, 4, 5, 6, 3, 3, 1, 1, 4, 4, 4, 4};

  uint64_t seed = 1;
  for (const Shape* s : {&b1, &cout70, &stride2, &splitk, &wide}) check_conv2d<float>(*s, seed++);
  check_fused<float>(b1, NormKind::Layer, ActKind::Relu, seed++);
  check_fused<float>(cout70, NormKind::Instance, ActKind::Sigmoid, seed++);
  check_fused<float>(stride2, NormKind::None, ActKind::Relu, seed++);
  check_fused<float>(splitk, NormKind::Layer, ActKind::Sigmoid, seed++);
  check_fused<float>(wide, NormKind::Instance, ActKind::None, seed++);
  // the other storage types: their own kernel instantiations
  check_conv2d<double>(splitk, seed++), check_fused<double>(cout70, NormKind::Layer, ActKind::Sigmoid, seed++);
  check_conv2d<half_t>(splitk, seed++), check_fused<half_t>(b1, NormKind::Instance, ActKind::Relu, seed++);
  check_conv2d<bf16_t>(splitk, seed++), check_fused<bf16_t>(b1, NormKind::Layer, ActKind::Sigmoid, seed++);

  // channel groups (the GEMMs of the folded problem) and depthwise (the direct kernels):
  // name, B, Cin, Cout, H, W, kH, kW, sH, sW, pH, pW, dH, dW, groups
  const Shape g2{"b1_g2_cout140_dilation2x3", 1, 4, 140, 7, 9, 3, 2, 1, 1, 2, 1, 2, 3, 2};
  const Shape g3{"b2_g3_stride2", 2, 6, 9, 11, 8, 3, 3, 2, 2, 1, 1, 1, 1, 3};
  const Shape g2splitk{"b1_g2_stride1x2_splitk", 1, 4, 6, 12, 20, 1, 3, 1, 2, 0, 1, 1, 1, 2};
  const Shape dw3{"b2_depthwise_k3_d2", 2, 4, 4, 9, 10, 3, 3, 1, 1, 2, 2, 2, 2, 4};
  const Shape dw5{"b1_depthwise_k5_mult2_stride2", 1, 3, 6, 11, 9, 5, 5, 2, 2, 2, 2, 1, 1, 3};
  const Shape dw7{"b2_depthwise_k7", 2, 5, 5, 8, 11, 7, 7, 1, 1, 3, 3, 1, 1, 5};
  for (const Shape* s : {&g2, &g3, &g2splitk, &dw3, &dw5, &dw7}) check_conv2d<float>(*s, seed++);
  check_fused<float>(g2, NormKind::None, ActKind::Relu, seed++);
  check_fused<float>(g3, NormKind::Instance, ActKind::Sigmoid, seed++);
  // 120 output pixels: two statistics tiles per (sample, group), the last one partial
  check_fused<float>(g2splitk, NormKind::Layer, ActKind::Sigmoid, seed++);
  check_fused<float>(dw3, NormKind::Layer, ActKind::Sigmoid, seed++);
  check_fused<float>(dw5, NormKind::Instance, ActKind::Relu, seed++);
  check_fused<float>(dw7, NormKind::None, ActKind::Relu, seed++);
  check_conv2d<double>(dw5, seed++), check_fused<half_t>(dw3, NormKind::Instance, ActKind::Sigmoid, seed++);
  check_fused<bf16_t>(g3, NormKind::Layer, ActKind::Relu, seed++);
  // the transposed conv (stride2 and g3: output_padding (0, 1))
  for (const Shape* s : {&b1, &stride2, &g2, &g3, &dw3, &dw5}) check_transpose<float>(*s, seed++);
  check_transpose<bf16_t>(g3, seed++), check_transpose<double>(dw5, seed++);

  std::printf("sanitizer driver: %d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
