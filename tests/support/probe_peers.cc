#include "tests/support/probe_peers.h"

#include <signal.h>

#include <chrono>
#include <ctime>
#include <stdexcept>

#include "tests/support/peers.h"

namespace sidecar::testing {
namespace {

void StopProcess(std::unique_ptr<ChildProcess>& process) {
  if (!process) return;
  process->Signal(SIGTERM);
  if (!process->Wait(std::chrono::seconds(5))) process->Signal(SIGKILL);
  process->Wait(std::chrono::seconds(5));
  process.reset();
}

}  // namespace

Certificate MakeSelfSignedCertificate(const std::filesystem::path& dir, const std::string& name,
                                      int days) {
  Certificate certificate{dir / (name + ".crt"), dir / (name + ".key")};
  const CommandResult made = RunCommand(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", certificate.key_file.string(), "-out", certificate.cert_file.string(),
       "-days", std::to_string(days), "-subj", "/CN=localhost", "-addext",
       "subjectAltName=DNS:localhost,IP:127.0.0.1"});
  if (made.exit_code != 0) throw std::runtime_error("openssl req failed: " + made.output);
  const CommandResult end = RunCommand({"openssl", "x509", "-noout", "-enddate", "-dateopt",
                                        "iso_8601", "-in", certificate.cert_file.string()});
  // "notAfter=2026-11-30 18:49:00Z"
  const size_t equals = end.output.find('=');
  if (end.exit_code != 0 || equals == std::string::npos) {
    throw std::runtime_error("openssl x509 -enddate failed: " + end.output);
  }
  std::tm tm{};
  if (strptime(end.output.c_str() + equals + 1, "%Y-%m-%d %H:%M:%S", &tm) == nullptr) {
    throw std::runtime_error("cannot read notAfter in: " + end.output);
  }
  certificate.not_after = static_cast<long long>(timegm(&tm));
  return certificate;
}

RedisServer::RedisServer() {
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreePort();
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"redis-server", "--port", std::to_string(port_), "--bind",
                                 "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                                 dir_.path().string(), "--daemonize", "no"},
        dir_ / "redis.log");
    if (WaitForPort(port_, std::chrono::seconds(5)) && process_->Running()) return;
    process_.reset();
  }
  throw std::runtime_error("redis-server did not start; see " + (dir_ / "redis.log").string());
}

RedisServer::~RedisServer() { StopProcess(process_); }

BlackboxExporter::BlackboxExporter(const std::string& modules_yaml,
                                   const std::vector<std::string>& extra_args) {
  WriteFile(dir_ / "blackbox.yml", "modules:\n" + modules_yaml);
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreePort();
    std::vector<std::string> argv = {"prometheus-blackbox-exporter",
                                     "--config.file=" + (dir_ / "blackbox.yml").string(),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_)};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<ChildProcess>(argv, dir_ / "blackbox.log");
    if (WaitForPort(port_, std::chrono::seconds(10)) && process_->Running()) return;
    process_.reset();
  }
  throw std::runtime_error("blackbox_exporter did not start:\n" + ReadFile(dir_ / "blackbox.log"));
}

BlackboxExporter::~BlackboxExporter() { StopProcess(process_); }

std::map<std::string, double> BlackboxExporter::Probe(const std::string& module,
                                                      const std::string& target) {
  const HttpResult result =
      HttpGet("http://127.0.0.1:" + std::to_string(port_) + "/probe?module=" + UrlEncode(module) +
              "&target=" + UrlEncode(target));
  if (result.status != 200) {
    throw std::runtime_error("blackbox /probe: " + std::to_string(result.status) + " " +
                             result.error + " " + result.body);
  }
  return ParseMetrics(result.body);
}

}  // namespace sidecar::testing
