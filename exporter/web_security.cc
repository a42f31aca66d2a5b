#include "exporter/web_security.h"

#include "exporter/basic_auth.h"
#include "exporter/tls_context.h"
#include "exporter/web_config.h"

namespace sidecar {

std::vector<std::string> ApplyWebConfigFile(const std::filesystem::path& file, Logger& logger,
                                            HttpServerOptions& options) {
  std::vector<std::string> problems;
  WebConfigLoad load = LoadWebConfigFile(file);
  for (const ConfigError& error : load.errors) problems.push_back(error.ToString());
  if (!load.config) return problems;
  WebConfig& config = *load.config;
  if (config.tls) {
    try {
      options.tls = std::make_shared<TlsContext>(*config.tls, logger);
    } catch (const std::exception& e) {
      problems.push_back(file.string() + ": tls_server_config." + e.what());
      return problems;
    }
  }
  if (!config.basic_auth_users.empty()) {
    options.basic_auth = std::make_shared<BasicAuthenticator>(config.basic_auth_users);
  }
  options.require_client_certificate =
      config.tls && (config.tls->client_auth == ClientAuth::kRequireAnyClientCert ||
                     config.tls->client_auth == ClientAuth::kRequireAndVerifyClientCert);
  options.headers = config.headers;
  return problems;
}

}  // namespace sidecar
