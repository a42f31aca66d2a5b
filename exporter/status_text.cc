// "/" for `Accept: text/plain`: the status report on one terminal screen.

#include <cmath>
#include <cstdio>

#include "exporter/status_format.h"
#include "exporter/status_page.h"

namespace sidecar {
namespace {

namespace fmt = status_format;

// A row's label, indented and padded to the first column.
std::string Label(std::string_view label) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "  %-22.22s ", std::string(label).c_str());
  return buffer;
}

// A row of a label and one column per window, padded for a terminal.
std::string Row(std::string_view label, const std::vector<std::string>& cells) {
  std::string line = Label(label);
  for (const std::string& cell : cells) {
    // Width in code points: "≈" and "–" take three bytes but one column.
    std::size_t columns = 0;
    for (const char c : cell) columns += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    line += cell + std::string(columns < 24 ? 24 - columns : 1, ' ');
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

template <typename Text>
std::vector<std::string> PerWindow(const SourceReport& source, Text&& text) {
  std::vector<std::string> cells;
  for (const WindowFigures& figures : source.windows) {
    cells.push_back(figures.span_seconds > 0 ? text(figures) : std::string("collecting"));
  }
  return cells;
}

std::string StateOf(const SourceReport& source) {
  if (!source.collected) return "FAILING";
  if (source.source_up && !*source.source_up) return "DOWN";
  return "up";
}

// The row that names the windows of the columns below it, once for every source (they share
// the history).
std::string Header(const SourceReport& source) {
  std::vector<std::string> header;
  for (const WindowFigures& figures : source.windows) {
    std::string title = fmt::Span(figures.window_seconds);
    if (figures.span_seconds > 0 && figures.span_seconds + 1 < figures.window_seconds) {
      title += " (" + fmt::Span(figures.span_seconds) + " so far)";
    }
    header.push_back(title);
  }
  return Row("last", header);
}

std::string AccessLogText(const SourceReport& source) {
  std::string text;
  text += Row("requests/s", PerWindow(source, [](const WindowFigures& f) {
                return f.requests > 0
                           ? fmt::Rate(f.requests_per_second) + " (" + fmt::Number(f.requests) + ")"
                           : std::string("no traffic");
              }));
  text += Row("4xx", PerWindow(source, [](const WindowFigures& f) {
                return fmt::Share(f.share_4xx, f.requests);
              }));
  text += Row("5xx", PerWindow(source, [](const WindowFigures& f) {
                return fmt::Share(f.share_5xx, f.requests);
              }));
  for (std::size_t q = 0; q < 3; ++q) {
    static constexpr std::array<std::string_view, 3> kNames = {"p50", "p90", "p99"};
    text += Row(kNames[q], PerWindow(source, [q](const WindowFigures& f) {
                  if (f.requests <= 0) return std::string("no traffic");
                  if (f.latency.size() <= q) return std::string("n/a");
                  const QuantileEstimate& e = f.latency[q];
                  if (std::isinf(e.upper)) return "> " + fmt::Seconds(e.lower);
                  return fmt::Seconds(e.estimate) + " (" + fmt::Seconds(e.lower) + "–" +
                         fmt::Seconds(e.upper) + ")";
                }));
  }
  text += Row("bytes/s", PerWindow(source, [](const WindowFigures& f) {
                if (f.requests <= 0) return std::string("no traffic");
                return f.response_bytes_per_second ? fmt::Bytes(*f.response_bytes_per_second)
                                                   : std::string("n/a");
              }));
  const WindowFigures& five = source.windows.at(1);
  if (five.has_status && five.requests > 0) {
    std::string mix;
    for (const auto& [status, count] : five.status_mix) {
      mix += (mix.empty() ? "" : "  ") + status + ": " + fmt::Number(count);
    }
    text += Label("status, 5 min") + mix + "\n";
  }
  const auto top = [&text](std::string_view title, const std::optional<NamedValues>& values) {
    if (!values || values->empty()) return;
    std::string line;
    for (std::size_t i = 0; i < values->size() && i < 3; ++i) {
      line +=
          (line.empty() ? "" : "  ") + (*values)[i].first + " " + fmt::Number((*values)[i].second);
    }
    text += Label(title) + line + "\n";
  };
  top("top paths, 5 min", five.top_paths);
  top("top clients, 5 min", five.top_clients);
  for (const auto& [file, bytes] : source.lag_bytes_by_file) {
    text += "  lag " + fmt::Bytes(bytes) + " behind " + file + "\n";
  }
  return text;
}

std::string StatusSourceText(const SourceReport& source) {
  std::string text;
  if (!source.gauges.empty()) {
    std::string now;
    for (const fmt::GaugeRow& row : fmt::GaugeRows(source)) {
      now += now.empty() ? "" : "; ";
      if (row.split) {
        now += row.title + ": " + fmt::SplitRowText(row, [&source](const fmt::GaugeMember& m) {
                 return fmt::Gauge(source.kind, m.name, m.value);
               });
      } else {
        const fmt::GaugeMember& gauge = row.members.front();
        now += gauge.name + " " + fmt::Gauge(source.kind, gauge.name, gauge.value);
      }
    }
    text += "  now: " + now + "\n";
  }
  text += Row("up", PerWindow(source, [](const WindowFigures& f) {
                return f.up_ratio ? fmt::Number(std::round(*f.up_ratio * 1000) / 10) + " %"
                                  : std::string("collecting");
              }));
  if (!source.windows.empty()) {
    for (std::size_t r = 0; r < source.windows.front().rates.size(); ++r) {
      text += Row(source.windows.front().rates[r].first + "/s",
                  PerWindow(source, [r](const WindowFigures& f) {
                    return r < f.rates.size() ? fmt::Rate(f.rates[r].second) : std::string("n/a");
                  }));
    }
  }
  return text;
}

}  // namespace

std::string RenderStatusText(const StatusReport& report) {
  const StatusPageData& page = report.page;
  std::string text = "sidecar-exporter " + page.version + " (" + page.revision + "), up " +
                     fmt::Uptime(std::chrono::duration<double>(page.now - page.started).count()) +
                     "; health " + page.health + "; " + page.readiness + "\n";
  if (!page.last_reload_successful) text += "last reload FAILED: " + page.last_reload_error + "\n";
  if (!report.sources.empty()) text += "\n" + Header(report.sources.front());
  for (const SourceReport& source : report.sources) {
    text += "\n" + source.name + " (" + source.title + "): " + StateOf(source);
    if (!source.failure_reason.empty()) text += ": " + source.failure_reason;
    text += "\n";
    if (source.kind == "access_log") {
      text += AccessLogText(source);
    } else if (!source.kind.empty()) {
      text += StatusSourceText(source);
    }
  }
  text += "\nexporter: scrapes/s";
  for (const auto& [window, rate] : report.exporter.scrapes_per_second) {
    text += " " + (rate ? fmt::Rate(*rate) : std::string("-")) + " (" + fmt::Span(window) + ")";
  }
  if (report.exporter.resident_memory_bytes) {
    text += "; memory " + fmt::Bytes(*report.exporter.resident_memory_bytes);
  }
  text += "\n";
  std::string durations;
  for (const CollectorState& state : page.collectors) {
    durations += (durations.empty() ? "" : "; ") + state.name + " " +
                 (state.last_success ? "ok" : "FAILING") + " " +
                 fmt::Seconds(state.last_duration_seconds);
  }
  if (!durations.empty()) text += "collectors: " + durations + "\n";
  text += "history: a snapshot every " + fmt::Span(report.sample_interval_seconds) + ", " +
          std::to_string(report.snapshots) + "/" + std::to_string(report.capacity) + " kept (" +
          fmt::Bytes(static_cast<double>(report.history_bytes)) + "); JSON at /api/v1/status\n";
  return text;
}

}  // namespace sidecar
