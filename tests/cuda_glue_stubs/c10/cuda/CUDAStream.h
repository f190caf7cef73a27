// Stand-in (syntax check only): torch's c10::cuda::CUDAStream and getCurrentCUDAStream.
#pragma once
#include <c10/core/Device.h>
#include <cuda_runtime_api.h>
namespace c10::cuda {
class CUDAStream {
 public:
  operator cudaStream_t() const;
  cudaStream_t stream() const;
};
CUDAStream getCurrentCUDAStream(c10::DeviceIndex device_index = -1);
}  // namespace c10::cuda
