#pragma once

#include <string_view>

namespace sidecar {

// Set by the build from the project version and the git revision it was built from.
std::string_view Version();
std::string_view Revision();

}  // namespace sidecar
