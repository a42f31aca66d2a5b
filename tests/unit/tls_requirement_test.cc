#include "exporter/tls_requirement.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "exporter/app.h"
#include "tests/support/peers.h"
#include "tests/support/temp_dir.h"

namespace sidecar {
namespace {

using testing::TempDir;
using testing::WriteFile;

const std::filesystem::path kSource = SIDECAR_SOURCE_DIR;

TEST_CASE("tls requirement: the shipped configurations need no TLS", "[tls_requirement]") {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(kSource / "examples")) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  for (const auto& entry : std::filesystem::recursive_directory_iterator(kSource / "k8s")) {
    if (entry.path().filename() == "config.yaml") files.push_back(entry.path());
  }
  REQUIRE(files.size() >= 10);
  for (const auto& file : files) {
    INFO(file);
    CHECK(ConfigFileNeedsTls(file) == std::nullopt);
  }
  // examples/probes.yaml shows an https:// probe with a tls block, commented out: comments count
  // for nothing.
  std::ostringstream probes;
  probes << std::ifstream(kSource / "examples/probes.yaml").rdbuf();
  REQUIRE(probes.str().find("url: https://") != std::string::npos);
}

TEST_CASE("tls requirement: the example web config serves TLS", "[tls_requirement]") {
  const auto file = kSource / "examples/web-config.yml";
  const auto reason = WebConfigFileNeedsTls(file);
  REQUIRE(reason);
  CHECK(*reason == file.string() + ":5:1: tls_server_config serves /metrics over TLS");
  CHECK(WebConfigFileNeedsTls("") == std::nullopt);
}

TEST_CASE("tls requirement: a web config without TLS", "[tls_requirement]") {
  TempDir dir;
  WriteFile(dir / "web.yml",
            "basic_auth_users:\n  prometheus: $2y$04$abc\nhttp_server_config:\n"
            "  headers: {X-Frame-Options: deny}\n");
  CHECK(WebConfigFileNeedsTls(dir / "web.yml") == std::nullopt);
  WriteFile(dir / "null.yml", "tls_server_config:\n");
  CHECK(WebConfigFileNeedsTls(dir / "null.yml") == std::nullopt);
  WriteFile(dir / "broken.yml", "tls_server_config: [\n");
  CHECK(WebConfigFileNeedsTls(dir / "broken.yml") == std::nullopt);
  CHECK(WebConfigFileNeedsTls(dir / "missing.yml") == std::nullopt);
}

TEST_CASE("tls requirement: https URLs and tls blocks of collectors, with where they are",
          "[tls_requirement]") {
  TempDir dir;
  const auto file = dir / "config.yaml";
  WriteFile(file, R"(global:
  timeout: 2s
collectors:
  - type: nginx_status
    name: nginx
    url: http://127.0.0.1:8080/stub_status
  - type: http_probe
    name: app
    url: HTTPS://app.example:8443/healthz
)");
  CHECK(ConfigFileNeedsTls(file) == file.string() + ":9:10: collectors[1].url is an https:// URL");

  WriteFile(file, R"(collectors:
  - type: tcp_probe
    name: db
    address: 127.0.0.1:5432
    tls: {insecure_skip_verify: true}
)");
  CHECK(ConfigFileNeedsTls(file) == file.string() + ":5:5: collectors[0].tls sets TLS options");

  WriteFile(file, R"(collectors:
  - type: http_probe
    name: via_proxy
    url: http://app:8080/
    proxy_url: https://proxy:3128
)");
  CHECK(ConfigFileNeedsTls(file) ==
        file.string() + ":5:16: collectors[0].proxy_url is an https:// URL");

  // Only values: a key, a label or a comment mentioning https is no URL.
  WriteFile(file, R"(global:
  labels: {scheme: https}
collectors:
  # url: https://commented.example/
  - type: nginx_status
    name: https
    url: http://127.0.0.1:8080/stub_status
)");
  CHECK(ConfigFileNeedsTls(file) == std::nullopt);
  CHECK(ConfigNeedsTls("collectors: [", "broken.yaml") == std::nullopt);
  CHECK(ConfigFileNeedsTls(dir / "missing.yaml") == std::nullopt);
}

double ReloadSuccessful(int port) {
  const auto metrics = testing::ParseMetrics(
      testing::HttpGet("http://127.0.0.1:" + std::to_string(port) + "/metrics").body);
  const auto found = metrics.find("sidecar_exporter_config_last_reload_successful");
  return found == metrics.end() ? -1 : found->second;
}

TEST_CASE("tls requirement: a binary without TLS refuses a reload that needs it",
          "[tls_requirement]") {
  TempDir dir;
  const auto config = dir / "config.yaml";
  const std::string plain =
      "collectors:\n  - {type: nginx_status, name: nginx, url: 'http://127.0.0.1:9/'}\n";
  const std::string https =
      "collectors:\n  - {type: nginx_status, name: nginx, url: 'https://127.0.0.1:9/'}\n";
  for (const bool tls_available : {false, true}) {
    INFO("tls_available " << tls_available);
    WriteFile(config, plain);
    std::ostringstream log;
    Logger logger(log, LogLevel::kInfo, LogFormat::kLogfmt);
    AppOptions options;
    options.config_file = config.string();
    options.listen_address = "127.0.0.1:0";
    options.status_sample_interval = std::chrono::milliseconds::zero();
    options.tls_available = tls_available;
    App app(options, logger);
    REQUIRE(app.Start());
    WriteFile(config, https);
    app.Reload();
    if (tls_available) {
      CHECK(ReloadSuccessful(app.port()) == 1);
      continue;
    }
    CHECK(ReloadSuccessful(app.port()) == 0);
    CHECK_THAT(log.str(), Catch::Contains("needs TLS (" + config.string() +
                                          ":2:44: collectors[0].url is an https:// URL)") &&
                              Catch::Contains("restart the container"));
    // A later reload without TLS goes through.
    WriteFile(config, plain);
    app.Reload();
    CHECK(ReloadSuccessful(app.port()) == 1);
  }
}

}  // namespace
}  // namespace sidecar
