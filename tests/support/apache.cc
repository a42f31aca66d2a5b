#include "tests/support/apache.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>

namespace sidecar::testing {
namespace {

// Where Debian's apache2 package keeps its loadable modules, found from the binary so that no
// machine path is written here: <prefix>/sbin/apache2 -> <prefix>/lib/apache2/modules.
std::filesystem::path ModulesDir(const std::string& apache2) {
  const std::filesystem::path prefix = std::filesystem::path(apache2).parent_path().parent_path();
  return prefix / "lib" / "apache2" / "modules";
}

}  // namespace

ApacheServer::ApacheServer(std::string mpm, bool extended_status)
    : mpm_(std::move(mpm)), extended_status_(extended_status) {
  std::filesystem::create_directories(dir_ / "logs");
  std::filesystem::create_directories(dir_ / "htdocs" / "static");
  WriteFile(dir_ / "htdocs" / "static" / "index.html", "<p>hello</p>\n");
  WriteFile(dir_ / "htdocs" / "static" / "10k.bin", std::string(10240, 'x'));
  // As root, Apache's children run as nobody and must be able to read the documents.
  if (geteuid() == 0) {
    chmod(dir_.path().c_str(), 0755);
  }
}

ApacheServer::~ApacheServer() { Stop(); }

std::string ApacheServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void ApacheServer::Start() {
  const std::string apache2 = FindExecutable("apache2");
  if (apache2.empty()) throw std::runtime_error("apache2 not found (Debian package apache2)");
  const std::string modules = ModulesDir(apache2).string();
  const std::string root = dir_.path().string();
  // Apache cannot report an ephemeral port, so take a free one and retry if it was snatched.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreePort();
    std::string user = geteuid() == 0 ? "User nobody\nGroup nogroup\n" : "";
    for (const std::string& module : extra_modules_) {
      user += "LoadModule " + module + "_module " + modules + "/mod_" + module + ".so\n";
    }
    WriteFile(dir_ / "httpd.conf", "ServerRoot " + root + "\nPidFile " + root +
                                       "/httpd.pid\nDefaultRuntimeDir " + root + "\nMutex file:" +
                                       root + "\nErrorLog " + root + "/logs/error.log\n" + user +
                                       "LoadModule mpm_" + mpm_ + "_module " + modules +
                                       "/mod_mpm_" + mpm_ + ".so\nLoadModule authz_core_module " +
                                       modules + "/mod_authz_core.so\nLoadModule status_module " +
                                       modules + "/mod_status.so\n" + R"(Listen 127.0.0.1:)" +
                                       std::to_string(port_) + R"(
ServerName 127.0.0.1
ExtendedStatus )" + (extended_status_ ? "On" : "Off") +
                                       R"(
KeepAliveTimeout 2
LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined
LogFormat ")" + kTimedLogFormat + R"(" timed
CustomLog )" + root + R"(/logs/combined.log combined
CustomLog )" + root + R"(/logs/timed.log timed
DocumentRoot )" + root + R"(/htdocs
<Location /server-status>
  SetHandler server-status
</Location>
)" + extra_config_);
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{apache2, "-f", (dir_ / "httpd.conf").string(), "-DFOREGROUND"},
        dir_ / "logs" / "stdout.log");
    if (WaitForPort(port_, std::chrono::seconds(5)) && process_->Running()) return;
    process_.reset();
  }
  throw std::runtime_error("apache2 did not start; see " + (dir_ / "logs").string());
}

int ApacheServer::master_pid() const {
  if (!process_) throw std::runtime_error("apache2 is not running");
  return process_->pid();
}

std::vector<int> ApacheServer::child_pids() const { return ChildPids(master_pid()); }

void ApacheServer::Stop() {
  if (!process_) return;
  process_->Signal(SIGTERM);
  if (!process_->Wait(std::chrono::seconds(10))) process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(5));
  process_.reset();
}

}  // namespace sidecar::testing
