#pragma once

#include <memory>
#include <mutex>
#include <utility>

namespace sidecar {

// Keeps one spare T so that a large buffer filled at every scrape keeps its capacity, and the
// pages behind it, instead of being freed and faulted in again: the exporter has large blocks
// mmap()ed (exporter/main.cc), so a fresh buffer of 1 MB costs 256 page faults at each scrape,
// which took more time than parsing what was written into it.
//
// Take() hands out a shared T that comes back here when its last owner lets it go (a result
// still being served by a concurrent scrape keeps its own). With the result of the last scrape
// kept until the next one, two are in use at most: the one served and the one being filled.
//
// Thread-safe. Create it with std::make_shared: the objects handed out hold a weak reference to
// it and are deleted when it is gone.
template <typename T>
class Recycler : public std::enable_shared_from_this<Recycler<T>> {
 public:
  // The spare T as its last user left it (the caller clears what it fills), or a new one.
  std::shared_ptr<T> Take() {
    std::unique_ptr<T> object;
    {
      const std::lock_guard lock(mutex_);
      object = std::move(spare_);
    }
    if (!object) object = std::make_unique<T>();
    // The deleter runs once, when the last owner goes; it takes the object back if this
    // recycler still exists and has no spare, and deletes it otherwise.
    return std::shared_ptr<T>(object.release(), [weak = this->weak_from_this()](T* returned) {
      std::unique_ptr<T> owned(returned);
      if (const auto self = weak.lock()) self->Keep(std::move(owned));
    });
  }

  // True when a spare is waiting (for tests).
  bool HasSpare() const {
    const std::lock_guard lock(mutex_);
    return spare_ != nullptr;
  }

 private:
  void Keep(std::unique_ptr<T> object) {
    const std::lock_guard lock(mutex_);
    if (!spare_) spare_ = std::move(object);
  }

  mutable std::mutex mutex_;
  std::unique_ptr<T> spare_;
};

}  // namespace sidecar
