#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simdjson.h"

namespace sidecar {

// A small path language into a JSON document, json_exporter's `path` without the rest of
// JSONPath:
//
//   $                    the whole document (the `$` may be left out)
//   $.a.b                key b of the object at key a
//   $.a["b.c"]  $['x']   a key with any characters, quoted (escape " and \ with \)
//   $.items[2]           the third item of an array
//   $.components.*       every value of an object, or every item of an array
//   $.items[*].status    the same, written as an index
//
// Keys written after a dot are letters, digits and `_ - : @ $ /`. A path that starts with `@`
// instead of `$` is relative (to an item a wildcard matched; see JsonCollector's labels).
//
// Immutable after Parse(); Evaluate() may run on any thread.
class JsonPath {
 public:
  // One item a wildcard matched: its key (or index, in decimal) and the value.
  struct Binding {
    std::string key;
    simdjson::dom::element item;
  };
  using Visitor =
      std::function<void(simdjson::dom::element value, const std::vector<Binding>& bindings)>;

  // Nullopt with `error` and the byte `error_offset` in `text` where it went wrong.
  static std::optional<JsonPath> Parse(std::string_view text, std::string& error,
                                       std::size_t& error_offset);

  // Calls `visit` for every value the path reaches from `root`, in document order, with what each
  // wildcard on the way matched. Missing keys and out-of-range indices reach nothing.
  void Evaluate(simdjson::dom::element root, const Visitor& visit) const;

  // The single value a path without wildcards reaches, if any.
  std::optional<simdjson::dom::element> Find(simdjson::dom::element root) const;

  std::size_t wildcards() const { return wildcards_; }
  bool relative() const { return relative_; }
  const std::string& text() const { return text_; }

 private:
  struct Step {
    enum class Kind { kKey, kIndex, kWildcard } kind;
    std::string key;
    std::size_t index = 0;
  };

  void Walk(simdjson::dom::element element, std::size_t step, std::vector<Binding>& bindings,
            const Visitor& visit) const;

  std::string text_;
  std::vector<Step> steps_;
  std::size_t wildcards_ = 0;
  bool relative_ = false;
};

}  // namespace sidecar
