#include "exporter/exposition.h"

#include "exporter/http_server.h"

namespace sidecar {

const std::string& Exposition::gzipped() const {
  std::call_once(gzip_once_, [this] { gzipped_ = Gzip(text_); });
  return gzipped_;
}

}  // namespace sidecar
