#pragma once

#include <optional>
#include <string>
#include <vector>

#include "exporter/status_report.h"

// How the status page, its text summary and its JSON write numbers. Internal to the status
// renderers.
namespace sidecar::status_format {

// "12.3", "0.05", "<0.01", "1250".
std::string Rate(double per_second);
// "25.0 %", or "no traffic" when there were no requests in the window.
std::string Share(const std::optional<double>& share, double requests);
// "3.2 ms", "1.25 s", "+Inf".
std::string Seconds(double seconds);
// "512 B", "1.5 KiB", "12.3 MiB".
std::string Bytes(double bytes);
// "1 min", "5 min", "2m10s": how long a span of seconds is.
std::string Span(double seconds);
// "p90 ≈ 12.5 ms (10 ms – 25 ms)": an estimate with the bucket bounds it lies within.
std::string Quantile(const QuantileEstimate& estimate);
// "3d 04h 05m 06s".
std::string Uptime(double seconds);
// "just now", "42s ago", "3m ago".
std::string Ago(std::chrono::system_clock::time_point then,
                std::chrono::system_clock::time_point now);
// A plain number without a trailing ".0": "3", "2.5".
std::string Number(double value);
// A gauge of a status source or probe in its unit: "3", "12.5 ms".
std::string Gauge(std::string_view kind, std::string_view name, double value);

// The current values of a status source as rows: one per gauge, except that the members of a
// family split by a label ("workers busy", "workers idle") share the row "workers", those at 0
// only counted, so that Apache's eleven scoreboard states take one line.
struct GaugeMember {
  std::string label;  // "busy"; empty for a gauge of its own
  std::string name;   // the gauge's full display name
  double value = 0;
};
struct GaugeRow {
  std::string title;
  bool split = false;
  std::vector<GaugeMember> members;  // those not at 0, for a split family
  int zeros = 0;                     // members at 0, for a split family
};
std::vector<GaugeRow> GaugeRows(const SourceReport& source);
// "busy 1 · idle 99 · 9 more at 0", each value through `value` (which may add markup).
template <typename ValueText>
std::string SplitRowText(const GaugeRow& row, ValueText&& value) {
  std::string text;
  for (const GaugeMember& member : row.members) {
    text += (text.empty() ? "" : " · ") + member.label + " " + value(member);
  }
  if (row.zeros > 0) {
    text +=
        std::string(text.empty() ? "all" : " · " + std::to_string(row.zeros) + " more") + " at 0";
  }
  return text;
}

}  // namespace sidecar::status_format
