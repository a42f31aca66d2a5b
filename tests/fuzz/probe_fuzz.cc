// libFuzzer target: what the probes parse from the network or the config. The first line is an
// `expect` regex, the rest a line read from the peer and then a `send` template expanded with
// the groups matched; the whole input is also read as a certificate time as libcurl shows it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/http/curl_support.h"
#include "collectors/probes/tcp_probe_collector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)sidecar::ParseCertificateTime(input);
  (void)sidecar::TlsVersionLabel(input);
  const size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  RE2::Options options;
  options.set_log_errors(false);
  const RE2 regex(std::string(input.substr(0, newline)), options);
  if (!regex.ok()) return 0;
  const std::string line(input.substr(newline + 1));
  const int count = regex.NumberOfCapturingGroups() + 1;
  if (count > 64) return 0;
  std::vector<re2::StringPiece> pieces(static_cast<size_t>(count));
  std::vector<std::string_view> groups;
  if (regex.Match(line, 0, line.size(), RE2::UNANCHORED, pieces.data(), count)) {
    for (const auto& piece : pieces) groups.emplace_back(piece.data(), piece.size());
  }
  const std::string expanded = sidecar::ExpandTemplate(line, regex, groups);
  // Expansion only copies the template and matched groups.
  if (expanded.size() > line.size() * (line.size() + 1)) __builtin_trap();
  return 0;
}
