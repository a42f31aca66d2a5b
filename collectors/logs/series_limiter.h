#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace sidecar::accesslog {

// New label sets beyond this many per metric go to the `__overflow__` series.
inline constexpr std::size_t kDefaultSeriesLimit = 2000;
// Longer label values (a path, a named field) are cut to this many bytes.
inline constexpr std::size_t kMaxLabelValueBytes = 256;
// The value of every label of the series that takes label sets beyond the limit.
inline constexpr std::string_view kOverflowValue = "__overflow__";

// A label value as exported: invalid UTF-8 replaced by U+FFFD, then cut to kMaxLabelValueBytes
// without splitting a character. `value` itself, or a view of `buffer` (overwritten).
std::string_view CleanLabelValue(std::string_view value, std::string& buffer);

// Appends `value` (at most kMaxLabelValueBytes, as CleanLabelValue() returns) to the lookup key
// of a label set. Length-prefixed, so that ("a b", "c") and ("a", "b c") differ.
void AppendLabelKey(std::string& key, std::string_view value);

// The cardinality guard of the log collectors: gives each distinct label set (its key built with
// AppendLabelKey()) an index, in order of first sight, up to `limit` of them. A label set beyond
// the limit gets kOverflow: its line is counted in the series whose labels are all
// `__overflow__`, and dropped() rises once per distinct refused label set (remembered by 64-bit
// hash up to 16384 of them; past that, every refused line whose set is not remembered counts).
// Memory is thus bounded whatever the log holds.
//
// Not thread-safe: the owner guards it.
class SeriesLimiter {
 public:
  static constexpr std::size_t kOverflow = std::numeric_limits<std::size_t>::max();

  explicit SeriesLimiter(std::size_t limit) : limit_(limit) {}

  // The index of the label set `key`; `created` is set when it is new (the caller appends its
  // series, which gets that index). kOverflow beyond the limit.
  std::size_t Find(std::string_view key, bool& created);

  // Label sets given an index.
  std::size_t size() const { return index_.size(); }
  // Distinct label sets refused (see the class comment).
  std::uint64_t dropped() const { return dropped_; }

 private:
  // Transparent, so that lookups take the key buffer without copying it into a std::string.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const {
      return std::hash<std::string_view>{}(key);
    }
  };

  const std::size_t limit_;
  std::unordered_map<std::string, std::size_t, KeyHash, std::equal_to<>> index_;
  std::unordered_set<std::uint64_t> dropped_keys_;
  std::uint64_t dropped_ = 0;
};

}  // namespace sidecar::accesslog
