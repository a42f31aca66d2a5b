#include "exporter/status_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sidecar::status_format {
namespace {

std::string Printf(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

}  // namespace

std::string Rate(double per_second) {
  if (per_second == 0) return "0";
  if (per_second < 0.01) return "<0.01";
  if (per_second < 10) return Printf("%.2f", per_second);
  if (per_second < 100) return Printf("%.1f", per_second);
  return Printf("%.0f", per_second);
}

std::string Share(const std::optional<double>& share, double requests) {
  if (requests <= 0) return "no traffic";
  if (!share) return "n/a";
  return Printf("%.1f %%", *share * 100);
}

std::string Seconds(double seconds) {
  if (std::isinf(seconds)) return "+Inf";
  if (seconds == 0) return "0";
  if (seconds < 0.001) return Printf("%.0f µs", seconds * 1e6);
  if (seconds < 1) return Printf("%.3g ms", seconds * 1000);
  return Printf("%.3g s", seconds);
}

std::string Bytes(double bytes) {
  if (bytes < 1024) return Printf("%.0f B", bytes);
  if (bytes < 1024 * 1024) return Printf("%.1f KiB", bytes / 1024);
  if (bytes < 1024.0 * 1024 * 1024) return Printf("%.1f MiB", bytes / (1024 * 1024));
  return Printf("%.1f GiB", bytes / (1024.0 * 1024 * 1024));
}

std::string Span(double seconds) {
  const long long whole = std::llround(seconds);
  if (whole % 60 == 0 && whole >= 60) return std::to_string(whole / 60) + " min";
  if (whole < 60) return std::to_string(whole) + " s";
  return std::to_string(whole / 60) + "m" + std::to_string(whole % 60) + "s";
}

std::string Quantile(const QuantileEstimate& estimate) {
  std::string text = "p" + Number(estimate.quantile * 100) + " ";
  if (std::isinf(estimate.upper)) return text + "> " + Seconds(estimate.lower);
  return text + "≈ " + Seconds(estimate.estimate) + " (" + Seconds(estimate.lower) + " – " +
         Seconds(estimate.upper) + ")";
}

std::string Uptime(double seconds_total) {
  auto seconds = static_cast<long long>(seconds_total);
  const auto days = seconds / 86400;
  seconds %= 86400;
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%lldd %02lldh %02lldm %02llds", days, seconds / 3600,
                seconds / 60 % 60, seconds % 60);
  return buffer;
}

std::string Ago(std::chrono::system_clock::time_point then,
                std::chrono::system_clock::time_point now) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - then).count();
  if (seconds < 1) return "just now";
  if (seconds < 120) return std::to_string(seconds) + "s ago";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m ago";
  return std::to_string(seconds / 3600) + "h ago";
}

std::string Number(double value) { return Printf("%.6g", value); }

std::vector<GaugeRow> GaugeRows(const SourceReport& source) {
  std::vector<GaugeRow> rows;
  for (const auto& [name, value] : source.gauges) {
    const FamilySpec* spec = FindGaugeSpec(source.kind, name);
    if (spec == nullptr || spec->split_label.empty() || name.size() <= spec->display.size()) {
      rows.push_back({name, false, {{"", name, value}}, 0});
      continue;
    }
    auto row = std::find_if(rows.begin(), rows.end(), [spec](const GaugeRow& r) {
      return r.split && r.title == spec->display;
    });
    if (row == rows.end()) {
      rows.push_back({std::string(spec->display), true, {}, 0});
      row = rows.end() - 1;
    }
    if (value == 0) {
      ++row->zeros;
    } else {
      row->members.push_back({name.substr(spec->display.size() + 1), name, value});
    }
  }
  return rows;
}

std::string Gauge(std::string_view kind, std::string_view name, double value) {
  const FamilySpec* spec = FindGaugeSpec(kind, name);
  if (spec != nullptr && spec->unit == "s") return Seconds(value);
  return Number(value);
}

}  // namespace sidecar::status_format
