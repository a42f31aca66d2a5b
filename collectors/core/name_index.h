#pragma once

#include <cstddef>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace sidecar {

// Names mapped to small values in one open-addressed array: unlike std::unordered_map, adding a
// name allocates nothing (a merge of 1,400 families made 2,900 allocations and as many frees
// per scrape for its two indexes). The names are views: the text they point into must outlive
// the index.
//
// Pointers to values stay valid until the next insertion. Not thread-safe.
template <typename Value>
class NameIndex {
 public:
  // Room for `names` without growing.
  void Reserve(std::size_t names) {
    std::size_t capacity = 16;
    while (capacity < names * 2) capacity *= 2;
    if (capacity > slots_.size()) Rehash(capacity);
  }

  // The value of `name`, or nullptr.
  Value* Find(std::string_view name) {
    if (slots_.empty()) return nullptr;
    Slot& slot = SlotOf(name);
    return slot.used ? &slot.value : nullptr;
  }

  // The value of `name`, added as Value{} when it was not there (`inserted` true then).
  std::pair<Value*, bool> FindOrAdd(std::string_view name) {
    if ((size_ + 1) * 2 > slots_.size()) Rehash(slots_.empty() ? 16 : slots_.size() * 2);
    Slot& slot = SlotOf(name);
    if (slot.used) return {&slot.value, false};
    slot = Slot{name, Value{}, true};
    ++size_;
    return {&slot.value, true};
  }

  std::size_t size() const { return size_; }

 private:
  struct Slot {
    std::string_view name;
    Value value{};
    bool used = false;
  };

  // The slot holding `name`, or the free slot where it belongs; the array is at most half full,
  // so probing ends.
  Slot& SlotOf(std::string_view name) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = std::hash<std::string_view>{}(name)&mask;
    while (slots_[i].used && slots_[i].name != name) i = (i + 1) & mask;
    return slots_[i];
  }

  void Rehash(std::size_t capacity) {
    std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity));
    for (Slot& slot : old) {
      if (slot.used) SlotOf(slot.name) = std::move(slot);
    }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace sidecar
