#pragma once

#include <string_view>
#include <vector>

#include "exporter/config.h"
#include "exporter/config_decoder.h"

namespace sidecar {

// What a collector's options decoder sees besides its own mapping.
struct CollectorDefaults {
  std::string name;
  std::chrono::milliseconds timeout;
};

// One supported `type:` of collector: how to decode its options into a factory.
struct CollectorType {
  std::string_view type;
  std::string_view summary;
  // Reads the collector's fields from `fields` (recording errors there) and returns a factory.
  // The result is ignored when errors were recorded.
  CollectorFactory (*decode)(FieldDecoder& fields, const CollectorDefaults& defaults);
  // Its series carry no "collector" label (for compatibility with another exporter), so two
  // collectors of this type need distinct "labels".
  bool series_without_collector_label = false;
};

// The table of collector types; adding a collector adds one entry here.
const std::vector<CollectorType>& CollectorTypes();

}  // namespace sidecar
