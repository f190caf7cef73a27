// Per-call scratch arrays, not zero-filled (std::vector value-initialises its
// elements: a full pass over megabytes of workspace on every call) and, when
// large, backed by huge pages (huge_pages.h).
#pragma once

#include <cstdint>
#include <memory>
#include <new>

#include "huge_pages.h"

namespace dyconv::cpu {

template <typename T>
class Workspace {
 public:
  // Cache-line aligned; default-initialised: no fill.
  explicit Workspace(int64_t n) : buf_(static_cast<T*>(::operator new[](size_t(n) * sizeof(T), kAlign))) {
    advise_huge_pages(buf_.get(), size_t(n) * sizeof(T));
  }
  T* data() { return buf_.get(); }
  const T* data() const { return buf_.get(); }
  T& operator[](int64_t i) { return buf_.get()[i]; }

 private:
  static constexpr std::align_val_t kAlign{64};
  struct Free {
    void operator()(T* p) const { ::operator delete[](p, kAlign); }
  };
  std::unique_ptr<T, Free> buf_;
};

}  // namespace dyconv::cpu
