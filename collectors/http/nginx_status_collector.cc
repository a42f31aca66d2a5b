#include "collectors/http/nginx_status_collector.h"

#include <algorithm>
#include <charconv>
#include <memory>

#include "collectors/core/metric_family_builder.h"
#include "collectors/http/http_fetcher.h"

namespace sidecar {
namespace {

// Reads the unsigned integers of `text` in order; false if a token is not a number.
bool ReadNumbers(std::string_view text, std::vector<std::uint64_t>& numbers) {
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r')) {
      ++pos;
    }
    if (pos == text.size()) break;
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), value);
    if (ec != std::errc() ||
        (end != text.data() + text.size() && *end != ' ' && *end != '\t' && *end != '\r')) {
      return false;
    }
    numbers.push_back(value);
    pos = static_cast<size_t>(end - text.data());
  }
  return true;
}

// Finds "<key> <number>" in `line` and stores the number.
bool ReadField(std::string_view line, std::string_view key, std::uint64_t& value) {
  const size_t at = line.find(key);
  if (at == std::string_view::npos) return false;
  std::string_view rest = line.substr(at + key.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  return ec == std::errc() && end != rest.data();
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\r')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<StubStatus> ParseStubStatus(std::string_view body, std::string& error) {
  std::vector<std::string_view> lines;
  while (!body.empty()) {
    const size_t newline = body.find('\n');
    const std::string_view line = Trim(body.substr(0, newline));
    if (!line.empty()) lines.push_back(line);
    if (newline == std::string_view::npos) break;
    body.remove_prefix(newline + 1);
  }
  if (lines.size() != 4) {
    error = "stub_status: expected 4 non-empty lines, got " + std::to_string(lines.size());
    return std::nullopt;
  }
  StubStatus status;
  if (!lines[0].starts_with("Active connections:") ||
      !ReadField(lines[0], "Active connections:", status.active)) {
    error = "stub_status: line 1 is not \"Active connections: N\"";
    return std::nullopt;
  }
  if (!lines[1].starts_with("server accepts handled requests")) {
    error = "stub_status: line 2 is not \"server accepts handled requests\"";
    return std::nullopt;
  }
  std::vector<std::uint64_t> counters;
  // Tengine appends a fourth column, request_time; the first three mean the same.
  if (!ReadNumbers(lines[2], counters) || counters.size() < 3 || counters.size() > 4) {
    error = "stub_status: line 3 is not 3 or 4 counters";
    return std::nullopt;
  }
  status.accepted = counters[0];
  status.handled = counters[1];
  status.requests = counters[2];
  if (!ReadField(lines[3], "Reading:", status.reading) ||
      !ReadField(lines[3], "Writing:", status.writing) ||
      !ReadField(lines[3], "Waiting:", status.waiting)) {
    error = "stub_status: line 4 is not \"Reading: N Writing: N Waiting: N\"";
    return std::nullopt;
  }
  return status;
}

NginxStatusCollector::NginxStatusCollector(const NginxStatusOptions& options)
    : StatusPageCollector(
          std::make_unique<HttpFetcher>(options.url, options.unix_socket),
          {.up_name = "nginx_up",
           .up_help =
               "Whether the last fetch of nginx's stub_status page succeeded (1) or not (0).",
           .timeout = options.timeout,
           .max_body_bytes = options.max_body_bytes,
           .labels = options.labels}) {}

std::optional<std::string> NginxStatusCollector::Export(
    const FetchedDocument& document, std::vector<prometheus::MetricFamily>& families) {
  std::string error;
  const std::optional<StubStatus> status = ParseStubStatus(document.body, error);
  if (!status) return error;
  using prometheus::MetricType;
  const auto add = [&](std::string name, std::string help, MetricType type, std::uint64_t value) {
    families.push_back(MetricFamilyBuilder(std::move(name), std::move(help), type, labels())
                           .Add(static_cast<double>(value))
                           .Build());
  };
  add("nginx_connections_accepted", "Accepted client connections, from nginx stub_status.",
      MetricType::Counter, status->accepted);
  add("nginx_connections_active", "Active client connections, from nginx stub_status.",
      MetricType::Gauge, status->active);
  add("nginx_connections_handled", "Handled client connections, from nginx stub_status.",
      MetricType::Counter, status->handled);
  add("nginx_connections_reading",
      "Connections where nginx is reading the request header, from nginx stub_status.",
      MetricType::Gauge, status->reading);
  add("nginx_connections_waiting", "Idle client connections, from nginx stub_status.",
      MetricType::Gauge, status->waiting);
  add("nginx_connections_writing",
      "Connections where nginx is writing the response, from nginx stub_status.", MetricType::Gauge,
      status->writing);
  add("nginx_http_requests_total", "Total client requests, from nginx stub_status.",
      MetricType::Counter, status->requests);
  return std::nullopt;
}

CollectorFactory DecodeNginxStatus(FieldDecoder& fields, const CollectorDefaults& defaults) {
  const NginxStatusOptions options =
      DecodeStatusPageOptions(fields, defaults, "http://127.0.0.1:8080/stub_status", 64 * 1024);
  return [options] { return std::make_unique<NginxStatusCollector>(options); };
}

}  // namespace sidecar
