// Stand-in (syntax check only): torch's c10::cuda::CUDAGuard.
#pragma once
#include <c10/core/Device.h>
namespace c10::cuda {
struct CUDAGuard {
  explicit CUDAGuard(c10::Device device);
  explicit CUDAGuard(c10::DeviceIndex device_index);
  ~CUDAGuard();
};
}  // namespace c10::cuda
