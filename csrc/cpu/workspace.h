// Per-call scratch arrays, not zero-filled (std::vector value-initialises its
// elements: a full pass over megabytes of workspace on every call) and, when
// large, backed by huge pages (huge_pages.h).
#pragma once

#include <cstdint>
#include <memory>

#include "huge_pages.h"

namespace dyconv::cpu {

template <typename T>
class Workspace {
 public:
  explicit Workspace(int64_t n) : buf_(new T[size_t(n)]) {  // default-initialised: no fill
    advise_huge_pages(buf_.get(), size_t(n) * sizeof(T));
  }
  T* data() { return buf_.get(); }
  const T* data() const { return buf_.get(); }
  T& operator[](int64_t i) { return buf_[size_t(i)]; }

 private:
  std::unique_ptr<T[]> buf_;
};

}  // namespace dyconv::cpu
