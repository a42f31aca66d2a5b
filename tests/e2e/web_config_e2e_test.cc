// --web.config.file with real clients: curl over TLS 1.2 and 1.3, client certificates from the
// right and a wrong CA, right and wrong passwords, a real Prometheus scraping over HTTPS with
// basic auth, certificate renewal without restart. The same web config file goes to Debian's
// prometheus-blackbox-exporter (exporter-toolkit) in the same test, which must behave the same.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "tests/support/peers.h"
#include "tests/support/pki.h"
#include "tests/support/probe_peers.h"

namespace sidecar::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kExporterConfig =
    "collectors:\n  - type: nginx_status\n    name: nginx\n    url: "
    "http://127.0.0.1:1/stub_status\n";

std::string WebConfig(const TestPki& pki, const std::string& client_auth,
                      const std::string& password_hash) {
  std::string yaml = "tls_server_config:\n  cert_file: " + pki.server_cert().string() +
                     "\n  key_file: " + pki.server_key().string() + "\n";
  if (!client_auth.empty()) {
    yaml += "  client_auth_type: " + client_auth + "\n  client_ca_file: " + pki.ca_cert().string() +
            "\n";
  }
  yaml +=
      "http_server_config:\n  headers:\n    Strict-Transport-Security: max-age=63072000\n"
      "basic_auth_users:\n  prometheus: '" +
      password_hash + "'\n";
  return yaml;
}

// Debian's blackbox exporter, which reads the web config with the exporter-toolkit.
class WebConfiguredBlackbox : public BlackboxExporter {
 public:
  explicit WebConfiguredBlackbox(const std::filesystem::path& web_config)
      : BlackboxExporter("  http_2xx:\n    prober: http\n",
                         {"--web.config.file=" + web_config.string()}) {}
};

std::string Https(int port, const std::string& path) {
  return "https://127.0.0.1:" + std::to_string(port) + path;
}

TEST_CASE("TLS 1.2 and 1.3 with basic auth: same answers as the exporter-toolkit and probes open",
          "[e2e][web-config]") {
  TestPki pki;
  const std::string hash = BcryptHash("s3cret");
  const std::filesystem::path web_config = pki.dir() / "web.yml";
  WriteFile(web_config, WebConfig(pki, "", hash));
  ExporterProcess ours(kExporterConfig, {"--web.config.file=" + web_config.string()});
  WebConfiguredBlackbox theirs(web_config);
  const std::vector<std::string> trust = {"--cacert", pki.ca_cert().string()};
  const auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), trust.begin(), trust.end());
    return extra;
  };

  for (const int port : {ours.port(), theirs.port()}) {
    INFO("port " << port << (port == ours.port() ? " (sidecar-exporter)" : " (blackbox)"));
    for (const std::string version : {"1.2", "1.3"}) {
      INFO("TLS " << version);
      const auto pinned = [&](std::vector<std::string> extra) {
        extra.insert(extra.end(), {"-v", "--tlsv" + version, "--tls-max", version});
        return with(extra);
      };
      const CurlResult right = Curl(Https(port, "/metrics"), pinned({"-u", "prometheus:s3cret"}));
      CHECK(right.status == 200);
      CHECK(right.output.find("SSL connection using TLSv" + version) != std::string::npos);
      std::string lower = right.output;  // HTTP/2 (Go) sends header names in lower case
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      CHECK(lower.find("strict-transport-security: max-age=63072000") != std::string::npos);
      CHECK(Curl(Https(port, "/metrics"), pinned({"-u", "prometheus:wrong"})).status == 401);
      CHECK(Curl(Https(port, "/metrics"), pinned({"-u", "nobody:s3cret"})).status == 401);
      CHECK(Curl(Https(port, "/metrics"), pinned({})).status == 401);
    }
    // TLS 1.1 is below the toolkit's default min_version (TLS12): no handshake.
    const CurlResult old = Curl(Https(port, "/metrics"),
                                with({"--tlsv1.1", "--tls-max", "1.1", "-u", "prometheus:s3cret"}));
    CHECK(old.status == 0);
    CHECK(old.exit_code != 0);
    // Plain HTTP on the TLS port gets no metrics.
    const CurlResult plain =
        Curl("http://127.0.0.1:" + std::to_string(port) + "/metrics", {"-u", "prometheus:s3cret"});
    CHECK(plain.status != 200);
  }

  // Ours only: kubelet probes (HTTPS, no credentials) still get their answers; nothing else does.
  CHECK(Curl(Https(ours.port(), "/healthz"), trust).status == 200);
  CHECK(Curl(Https(ours.port(), "/readyz"), trust).status == 200);
  CHECK(Curl(Https(ours.port(), "/"), trust).status == 401);
  CHECK(Curl(Https(ours.port(), "/nonexistent"), trust).status == 401);
  CHECK(Curl(Https(ours.port(), "/metrics"), with({"-X", "POST"})).status == 401);
  const CurlResult metrics =
      Curl(Https(ours.port(), "/metrics"), with({"-u", "prometheus:s3cret"}));
  CHECK(metrics.body.find("sidecar_exporter_tls_last_reload_successful 1") != std::string::npos);
}

TEST_CASE("mTLS: a client certificate from the right CA passes and one from a wrong CA does not",
          "[e2e][web-config]") {
  TestPki pki;
  const std::filesystem::path web_config = pki.dir() / "web.yml";
  WriteFile(web_config, WebConfig(pki, "RequireAndVerifyClientCert", BcryptHash("s3cret")));
  ExporterProcess ours(kExporterConfig, {"--web.config.file=" + web_config.string()});
  WebConfiguredBlackbox theirs(web_config);
  const auto args = [&](const std::filesystem::path& cert, const std::filesystem::path& key) {
    return std::vector<std::string>{
        "--cacert", pki.ca_cert().string(), "--cert", cert.string(),
        "--key",    key.string(),           "-u",     "prometheus:s3cret"};
  };
  for (const int port : {ours.port(), theirs.port()}) {
    INFO("port " << port << (port == ours.port() ? " (sidecar-exporter)" : " (blackbox)"));
    CHECK(Curl(Https(port, "/metrics"), args(pki.client_cert(), pki.client_key())).status == 200);
    // A certificate the CA did not sign fails the handshake, as with Go's crypto/tls.
    const CurlResult wrong =
        Curl(Https(port, "/metrics"), args(pki.other_client_cert(), pki.other_client_key()));
    CHECK(wrong.status == 0);
    CHECK(wrong.exit_code != 0);
    // No certificate: no metrics (Go refuses the handshake; we answer 403 so that probes work).
    const CurlResult none = Curl(Https(port, "/metrics"),
                                 {"--cacert", pki.ca_cert().string(), "-u", "prometheus:s3cret"});
    CHECK(none.status != 200);
  }
  const CurlResult none = Curl(Https(ours.port(), "/metrics"),
                               {"--cacert", pki.ca_cert().string(), "-u", "prometheus:s3cret"});
  CHECK(none.status == 403);
  CHECK(Curl(Https(ours.port(), "/healthz"), {"--cacert", pki.ca_cert().string()}).status == 200);
  CHECK(Curl(Https(ours.port(), "/readyz"), {"--cacert", pki.ca_cert().string()}).status == 200);
}

TEST_CASE("a real Prometheus scrapes both over HTTPS with tls_config and basic_auth: up 1",
          "[e2e][web-config][prometheus]") {
  TestPki pki;
  const std::filesystem::path web_config = pki.dir() / "web.yml";
  WriteFile(web_config, WebConfig(pki, "RequireAndVerifyClientCert", BcryptHash("s3cret")));
  ExporterProcess ours(kExporterConfig, {"--web.config.file=" + web_config.string()});
  WebConfiguredBlackbox theirs(web_config);

  TempDir prometheus_dir;
  const int prometheus_port = FreePort();
  const std::string job =
      "    scheme: https\n"
      "    tls_config:\n      ca_file: " +
      pki.ca_cert().string() + "\n      cert_file: " + pki.client_cert().string() +
      "\n      key_file: " + pki.client_key().string() +
      "\n    basic_auth:\n      username: prometheus\n      password: s3cret\n";
  WriteFile(
      prometheus_dir / "prometheus.yml",
      "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
      "  - job_name: sidecar\n" +
          job + "    static_configs:\n      - targets: ['127.0.0.1:" + std::to_string(ours.port()) +
          "']\n  - job_name: blackbox\n" + job +
          "    static_configs:\n      - targets: ['127.0.0.1:" + std::to_string(theirs.port()) +
          "']\n");
  ChildProcess prometheus(
      {"prometheus", "--config.file=" + (prometheus_dir / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (prometheus_dir / "data").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
      prometheus_dir / "prometheus.log");
  REQUIRE(WaitForPort(prometheus_port, seconds(20)));

  const std::string query = "http://127.0.0.1:" + std::to_string(prometheus_port) +
                            "/api/v1/query?query=up%7Bjob%3D~%22sidecar%7Cblackbox%22%7D";
  std::string body;
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    body = HttpGet(query).body;
    if (body.find(R"("job":"sidecar"},"value":[)") != std::string::npos &&
        body.find(R"("job":"blackbox"},"value":[)") != std::string::npos &&
        body.find(R"(,"0"])") == std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(500));
  }
  INFO(body << "\n" << prometheus.Log());
  CHECK(body.find(R"("instance":"127.0.0.1:)" + std::to_string(ours.port()) +
                  R"(","job":"sidecar"},"value":[)") != std::string::npos);
  CHECK(body.find(R"("job":"blackbox"},"value":[)") != std::string::npos);
  CHECK(body.find(R"(,"0"])") == std::string::npos);  // no target down
  CHECK(body.find(R"(,"1"])") != std::string::npos);
}

TEST_CASE("a renewed certificate is served without restart and a broken one keeps the old",
          "[e2e][web-config][reload]") {
  TestPki pki;
  const std::filesystem::path web_config = pki.dir() / "web.yml";
  WriteFile(web_config, WebConfig(pki, "", BcryptHash("s3cret")));
  ExporterProcess ours(kExporterConfig, {"--web.config.file=" + web_config.string()});
  const std::vector<std::string> args = {"-v", "--cacert", pki.ca_cert().string(), "-u",
                                         "prometheus:s3cret"};
  const auto served_subject = [&] {
    const CurlResult result = Curl(Https(ours.port(), "/metrics"), args);
    const size_t at = result.output.find("subject: CN=");
    return at == std::string::npos
               ? result.output
               : result.output.substr(at + 12, result.output.find('\n', at) - at - 12);
  };
  REQUIRE(served_subject() == "sidecar-exporter");

  // Renewal: new key and certificate replace the files (checked at most once a second).
  pki.IssueServerCertificate(pki.server_cert(), pki.server_key(), "renewed");
  std::this_thread::sleep_for(milliseconds(1100));
  served_subject();  // this handshake notices the change
  CHECK(served_subject() == "renewed");
  CHECK(ours.process().WaitForLog("msg=\"TLS certificate reloaded\"", seconds(5)));

  // A broken renewal: the old certificate stays, the log and the metrics say so.
  WriteFile(pki.server_cert(), "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n");
  std::this_thread::sleep_for(milliseconds(1100));
  CHECK(served_subject() == "renewed");
  CHECK(ours.process().WaitForLog("cannot reload the TLS files", seconds(5)));
  const CurlResult metrics = Curl(Https(ours.port(), "/metrics"), args);
  CHECK(metrics.body.find("sidecar_exporter_tls_last_reload_successful 0") != std::string::npos);
  CHECK(metrics.body.find("sidecar_exporter_tls_reload_failures_total 1") != std::string::npos);

  // Fixed again: back to 1.
  pki.IssueServerCertificate(pki.server_cert(), pki.server_key(), "fixed");
  std::this_thread::sleep_for(milliseconds(1100));
  served_subject();
  CHECK(served_subject() == "fixed");
  const CurlResult after = Curl(Https(ours.port(), "/metrics"), args);
  CHECK(after.body.find("sidecar_exporter_tls_last_reload_successful 1") != std::string::npos);
}

TEST_CASE("an invalid web config stops the start with located errors", "[e2e][web-config]") {
  TempDir dir;
  WriteFile(dir / "config.yaml", kExporterConfig);
  WriteFile(dir / "web.yml",
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n"
            "  min_version: TLS14\nbasic_auth_users:\n  alice: plaintext\n"
            "http_server_config:\n  headers:\n    Server: mine\n");
  ChildProcess exporter(
      {ExporterBinary(), "--config.file=" + (dir / "config.yaml").string(),
       "--web.config.file=" + (dir / "web.yml").string(), "--web.listen-address=127.0.0.1:0"},
      dir / "log");
  REQUIRE(exporter.Wait(seconds(10)) == 1);
  const std::string log = exporter.Log();
  const std::string file = (dir / "web.yml").string();
  CHECK(
      log.find(file + ":4:16: tls_server_config.min_version: unknown TLS version \\\"TLS14\\\"") !=
      std::string::npos);
  CHECK(log.find(file + ":6:10: basic_auth_users.alice: not a bcrypt hash") != std::string::npos);
  CHECK(log.find(file +
                 ":9:13: http_server_config.headers.Server: header \\\"Server\\\" cannot be set") !=
        std::string::npos);
}

}  // namespace
}  // namespace sidecar::testing
