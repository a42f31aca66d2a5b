#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sidecar {

// Whether a configuration needs TLS, and where: the image's lean sidecar-exporter has none (see
// exporter/tls_context.h) and runs sidecar-exporter-tls instead when it does. Each function
// returns the first place found, as "FILE:LINE:COLUMN: FIELD <why>", or nullopt when nothing
// needs TLS. A file that cannot be read or parsed needs nothing here: loading it reports that.

// Collectors: any `tls` mapping (probes' TLS options), and any https:// value (URLs, proxies).
// Comments do not count; anything else that is a value does, also where a collector would not
// use it (a false positive only costs the TLS binary's memory, a miss a failing source).
std::optional<std::string> ConfigNeedsTls(std::string_view yaml, const std::string& file_name);
std::optional<std::string> ConfigFileNeedsTls(const std::filesystem::path& file);

// The web config (--web.config.file): a tls_server_config.
std::optional<std::string> WebConfigFileNeedsTls(const std::filesystem::path& file);

}  // namespace sidecar
