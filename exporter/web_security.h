#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "exporter/http_server.h"
#include "exporter/logger.h"

namespace sidecar {

// Reads --web.config.file and sets the security part of `options` from it: TLS (loading the
// certificate, key and client CAs now), basic-auth users, client-certificate requirement and
// response headers. Returns every problem, each naming the file (and line, column and field for
// configuration errors); empty on success, when `options` is ready to serve.
std::vector<std::string> ApplyWebConfigFile(const std::filesystem::path& file, Logger& logger,
                                            HttpServerOptions& options);

}  // namespace sidecar
