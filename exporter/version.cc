#include "exporter/version.h"

namespace sidecar {

std::string_view Version() { return SIDECAR_VERSION; }
std::string_view Revision() { return SIDECAR_REVISION; }

}  // namespace sidecar
