#pragma once

#include <vector>

#include "collectors/core/collector_type.h"

namespace sidecar {

// The table of collector types, by the kind of source they read; adding a collector adds one
// entry here.
const std::vector<CollectorType>& CollectorTypes();

}  // namespace sidecar
