#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "collectors/core/collector.h"
#include "collectors/core/config_decoder.h"

namespace sidecar {

// Builds a collector from options decoded and validated at load time. Called once per
// (re)load, on the main thread.
using CollectorFactory = std::function<std::unique_ptr<Collector>()>;

// What a collector's options decoder sees besides its own mapping.
struct CollectorDefaults {
  std::string name;
  std::chrono::milliseconds timeout;
};

// Reads a collector's fields from `fields` (recording errors there) and returns a factory. The
// result is ignored when errors were recorded. Each collector's decoder sits next to it.
using CollectorDecoder = CollectorFactory (*)(FieldDecoder& fields,
                                              const CollectorDefaults& defaults);

// One supported `type:` of collector: how to decode its options into a factory.
struct CollectorType {
  std::string_view type;
  std::string_view summary;
  CollectorDecoder decode;
  // Its series carry no "collector" label (for compatibility with another exporter), so two
  // collectors of this type need distinct "labels".
  bool series_without_collector_label = false;
};

}  // namespace sidecar
