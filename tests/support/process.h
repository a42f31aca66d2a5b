#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sidecar::testing {

// A child process started by a test, with stdout and stderr going to `log_file`. Killed
// (SIGKILL) and reaped on destruction if still running, so a failing test leaves nothing behind.
class ChildProcess {
 public:
  // Looks `argv[0]` up in PATH (plus /usr/sbin and /sbin, where Debian puts nginx).
  ChildProcess(std::vector<std::string> argv, std::filesystem::path log_file);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  int pid() const { return pid_; }
  void Signal(int signal);
  // Waits for exit; returns the exit code (128 + signal when killed), nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running();
  std::string Log() const;
  // Waits until the log contains `text`; false on timeout or when the process exits first.
  bool WaitForLog(const std::string& text, std::chrono::milliseconds timeout);

 private:
  int pid_ = -1;
  std::optional<int> exit_code_;
  std::filesystem::path log_file_;
};

// The pids of `parent`'s children (read from /proc).
std::vector<int> ChildPids(int parent);

// A kB field of /proc/<pid>/status ("VmRSS", "VmHWM": resident and peak resident memory), in
// KiB. Throws std::runtime_error when the process or the field is not there.
long ProcStatusKib(int pid, const std::string& field);
// Makes the peak resident memory (VmHWM) of `pid` start again from its resident memory now, so
// that a test reads the peak of one step; false when the kernel refused.
bool ResetPeakRss(int pid);

// Runs `body` in a forked child as the user and group nobody (65534), for tests that need a
// real permission refusal while they run as root; returns its result (non-zero: the step that
// failed; 20 when it threw). nullopt when the child cannot drop to nobody (root without
// CAP_SETUID, as in a restricted container): then nothing can be refused, and the caller says so.
// `body` runs in a copy of the process: it must not use Catch2's assertions.
std::optional<int> RunAsNobody(const std::function<int()>& body);

// Runs a command to completion, feeding `input` on stdin; returns exit code and combined output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "");

// Finds an executable in PATH, /usr/sbin or /sbin; empty when missing.
std::string FindExecutable(const std::string& name);

// A TCP port on 127.0.0.1 that was free a moment ago (for peers such as nginx that cannot
// report the port they bound).
int FreePort();
// True once something accepts TCP connections on 127.0.0.1:port.
bool WaitForPort(int port, std::chrono::milliseconds timeout);

}  // namespace sidecar::testing
