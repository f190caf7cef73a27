// Which CPU engine runs a convolution, decided once per shape class and process.
//
// DYCONV_CPU_ENGINE forces an engine wherever it applies (cpu/engines.h). Otherwise
// the first call of a shape class (dtype, channels, map, kernel, stride, padding,
// dilation, threads, the batch where it makes the engines split samples, and for
// float32 torch's float32 matmul precision when it is not "highest") decides, and
// every later call of the class in the process takes the same engine, so results
// stay bitwise reproducible within the process:
//   - by default the fixed rule of the shape (cpu/engine_rule.h);
//   - with DYCONV_CPU_AUTOTUNE=1, by timing: every engine that applies (Winograd
//     F(4x4, 3x3) only where winograd4_allowed) runs the
//     call's geometry forward + backward on made-up data, twice, alternating, and
//     the fastest minimum wins (like torch.backends.cudnn.benchmark). Cheap-ish: a
//     batch of one sample per thread where samples are not split, so about 2 x the
//     engines x a call's time per thread, once per class. Timing can come out
//     differently in another process; with DYCONV_CPU_AUTOTUNE_CACHE=<file> the
//     decisions are appended to that file (keyed by CPU and class) and read back by
//     later processes, which then take the same engines.
// DYCONV_LOG_ENGINE=1 prints each decision to stderr; dyconv.cpu_engine_for()
// (cpu/engine_query.cpp) returns it.
#pragma once

#include <ATen/Context.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "checks.h"
#include "cpu/conv.h"
#include "cpu/cpu_id.h"
#include "cpu/engine_rule.h"
#include "cpu/engines.h"
#include "cpu/workspace.h"

namespace dyconv::cpu {

namespace engine_choice_detail {

inline bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

// torch.get_float32_matmul_precision() for float32 ("highest", "high" or "medium"); empty for float64.
template <typename T>
std::string float32_precision() {
  if (!std::is_same_v<T, float>) return "";
  switch (at::globalContext().float32MatmulPrecision()) {
    case at::Float32MatmulPrecision::HIGH: return "high";
    case at::Float32MatmulPrecision::MEDIUM: return "medium";
    default: return "highest";
  }
}

// Whether the automatic choice may take Winograd F(4x4, 3x3), whose float32 error is
// several times that of the other engines (docs/cpu_kernels.md): only in float32, and
// only where the user has set torch.set_float32_matmul_precision("high") or "medium",
// torch's leave to trade float32 accuracy for speed. DYCONV_CPU_ENGINE=winograd4 forces it.
template <typename T>
bool winograd4_allowed() {
  const std::string p = float32_precision<T>();
  return p == "high" || p == "medium";
}

// Whether the automatic choice may take engine e for g.
template <typename T>
bool automatic_candidate(Engine e, const ConvGeometry& g) {
  return engine_applies<T>(e, g) && (e != Engine::Winograd4 || winograd4_allowed<T>());
}

template <typename T>
std::string shape_class(const ConvGeometry& g, int64_t threads) {
  std::ostringstream s;
  s << (std::is_same_v<T, float> ? "float32" : "float64") << " B";
  if (splits_samples(g.B, threads)) s << g.B;
  else s << "*";
  s << " " << g.Cin << "->" << g.Cout << " " << g.H << "x" << g.W << " k" << g.kH << "x" << g.kW << " s" << g.sH
    << "," << g.sW << " p" << g.pH << "," << g.pW << " d" << g.dH << "," << g.dW << " t" << threads;
  const std::string precision = float32_precision<T>();
  if (!precision.empty() && precision != "highest") s << " " << precision;
  return s.str();
}

struct Decision {
  Engine engine;
  bool logged;  // false for one read from the disk cache and not yet used
};

struct Decisions {
  std::mutex lock;
  std::map<std::string, Decision> of;  // shape class -> engine
  bool disk_read = false;
};

inline Decisions& decisions() {
  static Decisions d;
  return d;
}

inline void log_decision(const std::string& cls, Engine e, const std::string& how) {
  if (env_flag("DYCONV_LOG_ENGINE"))
    std::fprintf(stderr, "dyconv: CPU engine %s for %s (%s)\n", engine_name(e), cls.c_str(), how.c_str());
}

// Lines "machine<TAB>class<TAB>engine" of the disk cache; the first line of a class wins.
inline void read_disk_cache(Decisions& d) {
  d.disk_read = true;
  const char* path = std::getenv("DYCONV_CPU_AUTOTUNE_CACHE");
  if (!path || !*path) return;
  std::ifstream in(path);
  std::string line;
  const std::string machine = cpu_id().machine();
  while (std::getline(in, line)) {
    const auto a = line.find('\t'), b = line.rfind('\t');
    if (a == std::string::npos || a == b || line.compare(0, a, machine) != 0 || a != machine.size()) continue;
    Engine e;
    if (parse_engine(line.substr(b + 1), e)) d.of.emplace(line.substr(a + 1, b - a - 1), Decision{e, false});
  }
}

inline void append_disk_cache(const std::string& cls, Engine e) {
  const char* path = std::getenv("DYCONV_CPU_AUTOTUNE_CACHE");
  if (!path || !*path) return;
  const std::string line = cpu_id().machine() + "\t" + cls + "\t" + engine_name(e) + "\n";
  if (FILE* f = std::fopen(path, "a")) {  // one short append per line: concurrent writers do not interleave
    std::fwrite(line.data(), 1, line.size(), f);
    std::fclose(f);
  }
}

// Seconds of one forward + backward (input and weight gradients) with engine e.
template <typename T>
double time_engine(const ConvGeometry& g, Engine e, const T* x, const T* w, T* y, T* dx, T* dw) {
  const auto t0 = std::chrono::steady_clock::now();
  const Conv<T> conv(g, e);
  conv.forward(x, w, y, [](int64_t, int64_t, int64_t, int64_t) {});
  const int64_t N = g.N();
  conv.backward(x, w, dx, dw, [&](int64_t b, int64_t c, int64_t n0, int64_t n1, T* dst) {
    std::memcpy(dst, y + (b * g.Cout + c) * N + n0, (n1 - n0) * sizeof(T));  // y stands in for dy
  });
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The fastest engine for g (of those that apply), and a line saying what each took.
template <typename T>
Engine autotune(ConvGeometry g, int64_t threads, std::string& how) {
  if (!splits_samples(g.B, threads)) g.B = std::min(g.B, threads);  // the same work per thread
  std::vector<Engine> candidates;
  for (Engine e : {Engine::Winograd, Engine::Winograd4, Engine::Direct, Engine::Shifted, Engine::Phases,
                   Engine::Im2col})
    if (automatic_candidate<T>(e, g)) candidates.push_back(e);
  const int64_t nx = g.B * g.Cin * g.H * g.W, nw = g.B * g.Cout * g.K(), ny = g.B * g.Cout * g.N();
  Workspace<T> x(nx), w(nw), y(ny), dx(nx), dw(nw);
  uint32_t state = 12345;
  auto fill = [&state](T* p, int64_t n, T scale) {
    for (int64_t i = 0; i < n; ++i) {
      state = state * 1664525u + 1013904223u;
      p[i] = scale * (T(state >> 8) / T(1 << 24) - T(0.5));
    }
  };
  fill(x.data(), nx, T(2));
  fill(w.data(), nw, T(2) / T(g.K()));
  std::vector<double> best(candidates.size(), 1e30);
  for (int round = 0; round < 2; ++round)
    for (size_t i = 0; i < candidates.size(); ++i)
      best[i] = std::min(best[i], time_engine<T>(g, candidates[i], x.data(), w.data(), y.data(), dx.data(), dw.data()));
  const size_t fastest = std::min_element(best.begin(), best.end()) - best.begin();
  std::ostringstream s;
  s << "autotuned on " << g.B << (g.B == 1 ? " sample:" : " samples:");
  for (size_t i = 0; i < candidates.size(); ++i) s << " " << engine_name(candidates[i]) << " " << best[i] * 1e3 << " ms";
  how = s.str();
  return candidates[fastest];
}

}  // namespace engine_choice_detail

// The engine for a call with geometry g (see the top of this file).
template <typename T>
Engine choose_engine(const ConvGeometry& g) {
  using namespace engine_choice_detail;
  Engine forced;
  if (forced_engine(forced) && engine_applies<T>(forced, g)) return forced;
  const int64_t threads = at::get_num_threads();
  const std::string cls = shape_class<T>(g, threads);
  Decisions& d = decisions();
  std::lock_guard<std::mutex> guard(d.lock);  // held while timing: one autotune at a time
  if (!d.disk_read) read_disk_cache(d);
  const auto known = d.of.find(cls);
  if (known != d.of.end()) {
    Decision& k = known->second;
    if (!automatic_candidate<T>(k.engine, g)) k.engine = rule_engine<T>(g);  // a damaged cache line
    if (!k.logged) log_decision(cls, k.engine, std::string("from ") + std::getenv("DYCONV_CPU_AUTOTUNE_CACHE"));
    k.logged = true;
    return k.engine;
  }
  Engine e;
  std::string how;
  if (env_flag("DYCONV_CPU_AUTOTUNE")) {
    e = autotune<T>(g, threads, how);
    append_disk_cache(cls, e);
  } else {
    e = rule_engine<T>(g);
    how = "rule";
  }
  d.of.emplace(cls, Decision{e, true});
  log_decision(cls, e, how);
  return e;
}

}  // namespace dyconv::cpu
