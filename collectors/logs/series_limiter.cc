#include "collectors/logs/series_limiter.h"

#include "collectors/logs/log_record.h"

namespace sidecar::accesslog {
namespace {

constexpr std::size_t kDroppedKeysRemembered = 16384;

// Cuts `value` to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view Truncate(std::string_view value, std::size_t max) {
  if (value.size() <= max) {
    return value;
  }
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) {
    --end;
  }
  return value.substr(0, end);
}

}  // namespace

std::string_view CleanLabelValue(std::string_view value, std::string& buffer) {
  // Sanitizing may lengthen the value (U+FFFD is 3 bytes), so it comes before the cut.
  return Truncate(SanitizeUtf8(value, buffer), kMaxLabelValueBytes);
}

void AppendLabelKey(std::string& key, std::string_view value) {
  // Values are cut to kMaxLabelValueBytes, so two bytes hold any length.
  key.push_back(static_cast<char>(value.size() & 0xFF));
  key.push_back(static_cast<char>(value.size() >> 8));
  key.append(value);
}

std::size_t SeriesLimiter::Find(std::string_view key, bool& created) {
  created = false;
  if (auto it = index_.find(key); it != index_.end()) {
    return it->second;
  }
  if (index_.size() < limit_) {
    const std::size_t index = index_.size();
    index_.emplace(key, index);
    created = true;
    return index;
  }
  const std::uint64_t hash = std::hash<std::string_view>{}(key);
  if (dropped_keys_.size() < kDroppedKeysRemembered) {
    if (dropped_keys_.insert(hash).second) {
      ++dropped_;
    }
  } else if (!dropped_keys_.contains(hash)) {
    ++dropped_;
  }
  return kOverflow;
}

}  // namespace sidecar::accesslog
