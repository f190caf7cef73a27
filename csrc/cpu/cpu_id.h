// The CPU as the autotuner's disk cache keys its decisions (cpu/engine_choice.h):
// vendor and brand string (cpuid) and whether it runs AVX-512.
#pragma once

#include <cstring>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace dyconv::cpu {

struct CpuId {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", ... or "unknown"
  std::string brand;   // e.g. "AMD EPYC 9B45" (a VM may shorten it), or "unknown"
  bool avx512 = false;  // F, VL, BW and DQ: the widest direct taps
  // The machine as the autotuner's disk cache keys it.
  std::string machine() const { return vendor + " " + brand + (avx512 ? " avx512" : ""); }
};

inline const CpuId& cpu_id() {
  static const CpuId id = [] {
    CpuId c{"unknown", "unknown"};
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    c.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    unsigned r[4];
    char vendor[13] = {};
    if (__get_cpuid(0, &r[0], &r[1], &r[2], &r[3])) {
      std::memcpy(vendor, &r[1], 4), std::memcpy(vendor + 4, &r[3], 4), std::memcpy(vendor + 8, &r[2], 4);
      c.vendor = vendor;
    }
    char brand[49] = {};
    if (__get_cpuid(0x80000000, &r[0], &r[1], &r[2], &r[3]) && r[0] >= 0x80000004) {
      for (unsigned leaf = 0; leaf < 3; ++leaf) {
        __get_cpuid(0x80000002 + leaf, &r[0], &r[1], &r[2], &r[3]);
        std::memcpy(brand + 16 * leaf, r, 16);
      }
      std::string s(brand);
      const auto b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
      if (b != std::string::npos) c.brand = s.substr(b, e - b + 1);
    }
#endif
    return c;
  }();
  return id;
}

}  // namespace dyconv::cpu
