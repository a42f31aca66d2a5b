#include "exporter/status_page.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "exporter/status_format.h"

namespace sidecar {
namespace {

namespace fmt = status_format;

constexpr std::string_view kStyle = R"(
:root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#fff;--line:#d1d9e0;--head:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--line:#3d444d;--head:#151b23}}
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;padding:1em;max-width:72em;color:var(--fg);background:var(--bg)}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid var(--line);padding-bottom:.2em}
h3{font-size:1em;margin:1em 0 .3em}small,.muted{color:var(--muted)}
.wrap{overflow-x:auto}table{border-collapse:collapse;margin:.4em 0}
td,th{border:1px solid var(--line);padding:.25em .6em;text-align:left;vertical-align:top}
th{background:var(--head)}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ok{color:#1a7f37;font-weight:bold}.err{color:#cf222e;font-weight:bold}.idle{color:var(--muted)}
code{background:var(--head);padding:0 .25em}.source{white-space:pre-line;font-size:.9em}
.cols{display:flex;flex-wrap:wrap;gap:0 2em}.chart{flex:1 1 24em;max-width:46em}
svg{width:100%;height:auto;display:block}svg text{font-size:11px;fill:var(--muted)}
svg .grid{stroke:var(--line);stroke-width:1}svg .line{fill:none;stroke-width:1.5}
.s0{stroke:#0969da;background:#0969da}.s1{stroke:#bf3989;background:#bf3989}
.s2{stroke:#9a6700;background:#9a6700}.s3{stroke:#1a7f37;background:#1a7f37}
.k-2xx{fill:#2da44e;background:#2da44e}.k-3xx{fill:#0969da;background:#0969da}
.k-4xx{fill:#d4a72c;background:#d4a72c}.k-5xx{fill:#cf222e;background:#cf222e}
.k-other,.k-requests{fill:#8c959f;background:#8c959f}.k-up{fill:#2da44e;background:#2da44e}
.k-down{fill:#cf222e;background:#cf222e}
.key{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 .8em;vertical-align:middle}
.legend{margin:.1em 0 .8em;font-size:.9em}
@media (max-width:40em){body{padding:.5em;font-size:14px}td,th{padding:.2em .35em}
td.n{white-space:normal}svg{overflow:visible}svg text{font-size:17px}}
)";

std::string Cell(std::string_view text, std::string_view field = {}, int window = 0) {
  std::string html = "<td class=\"n\"";
  if (!field.empty()) {
    html +=
        " data-field=\"" + std::string(field) + "\" data-window=\"" + std::to_string(window) + "\"";
  }
  return html + ">" + HtmlEscape(text) + "</td>";
}

// The header row of a figures table: one column per window, naming the span actually covered
// while the history is shorter than the window.
std::string WindowHeader(const std::vector<WindowFigures>& windows) {
  std::string html = "<thead><tr><td></td>";
  for (const WindowFigures& figures : windows) {
    html += "<th scope=\"col\">last " + fmt::Span(figures.window_seconds);
    if (figures.span_seconds > 0 && figures.span_seconds + 1 < figures.window_seconds) {
      html += " <small>(" + fmt::Span(figures.span_seconds) + " so far)</small>";
    }
    html += "</th>";
  }
  return html + "</tr></thead>\n<tbody>";
}

// Links are relative to the page at "/", so that they also work when the page is reached under
// a prefix (`kubectl proxy`'s .../pods/NAME:10113/proxy/), not only through port-forward.
std::string RelativeLink(std::string_view path) {
  while (path.starts_with('/')) path.remove_prefix(1);
  return path.empty() ? "./" : HtmlEscape(path);
}

std::string Badge(bool good, std::string_view good_text, std::string_view bad_text) {
  return good ? "<span class=\"ok\">" + std::string(good_text) + "</span>"
              : "<span class=\"err\">" + std::string(bad_text) + "</span>";
}

std::string CssName(std::string_view name) {
  std::string css;
  for (const char c : name) {
    css += (std::isalnum(static_cast<unsigned char>(c)) != 0) ? c : '-';
  }
  return css;
}

// 1, 2 or 5 times a power of ten, at least `value`.
double NiceCeiling(double value) {
  if (value <= 0) return 1;
  const double power = std::pow(10, std::floor(std::log10(value)));
  for (const double step : {1.0, 2.0, 5.0, 10.0}) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

std::string AxisLabel(double value, std::string_view unit) {
  if (unit == "s") return fmt::Seconds(value);
  if (unit == "bytes") return fmt::Bytes(value);
  return fmt::Rate(value);
}

std::string Coordinate(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}

// An inline SVG of a chart over the last kStatusChartSeconds, with its legend in HTML.
std::string RenderChart(const Chart& chart, double sample_interval) {
  constexpr double kWidth = 640, kHeight = 150, kLeft = 56, kRight = 8, kTop = 8, kBottom = 20;
  constexpr double kPlotWidth = kWidth - kLeft - kRight, kPlotHeight = kHeight - kTop - kBottom;
  const auto x = [](double seconds_ago) {
    return kLeft + kPlotWidth * (1 - std::min(seconds_ago, double{kStatusChartSeconds}) /
                                         kStatusChartSeconds);
  };
  const std::size_t points = chart.seconds_ago.size();
  double top = 1;
  if (chart.style != Chart::Style::kUpDown) {
    double highest = 0;
    for (std::size_t p = 0; p < points; ++p) {
      double stacked = 0;
      for (const auto& series : chart.series) {
        const double value = series.values[p].value_or(0);
        stacked += value;
        highest = std::max(highest, chart.style == Chart::Style::kStacked ? stacked : value);
      }
    }
    top = NiceCeiling(highest);
  }
  const auto y = [top](double value) { return kTop + kPlotHeight * (1 - value / top); };

  std::string svg = "<div class=\"chart\"><h3>" + HtmlEscape(chart.title) +
                    " <small>last 30 min</small></h3>\n<svg viewBox=\"0 0 640 150\" role=\"img\" "
                    "aria-label=\"" +
                    HtmlEscape(chart.title) + ", last 30 minutes\">\n";
  if (chart.style != Chart::Style::kUpDown) {
    for (const double fraction : {0.0, 0.5, 1.0}) {
      const std::string line_y = Coordinate(y(top * fraction));
      svg += "<line class=\"grid\" x1=\"" + Coordinate(kLeft) + "\" x2=\"" +
             Coordinate(kWidth - kRight) + "\" y1=\"" + line_y + "\" y2=\"" + line_y + "\"/>";
      svg += "<text x=\"" + Coordinate(kLeft - 4) + "\" y=\"" + Coordinate(y(top * fraction) + 4) +
             "\" text-anchor=\"end\">" + HtmlEscape(AxisLabel(top * fraction, chart.unit)) +
             "</text>\n";
    }
  }
  for (const auto& [ago, label] : {std::pair{1800.0, "−30m"}, std::pair{1200.0, "−20m"},
                                   std::pair{600.0, "−10m"}, std::pair{0.0, "now"}}) {
    svg += "<text x=\"" + Coordinate(x(ago)) + "\" y=\"" + Coordinate(kHeight - 4) +
           "\" text-anchor=\"" +
           (ago == 0      ? "end"
            : ago == 1800 ? "start"
                          : "middle") +
           "\">" + label + "</text>";
  }
  svg += "\n";
  if (points == 0) {
    svg +=
        "<text x=\"320\" y=\"70\" text-anchor=\"middle\">collecting: the chart fills in as "
        "snapshots arrive</text>\n";
  }
  // Where each point's interval starts, for bars.
  const auto interval_start = [&](std::size_t p) {
    return p == 0 ? chart.seconds_ago[0] + sample_interval : chart.seconds_ago[p - 1];
  };
  switch (chart.style) {
    case Chart::Style::kUpDown:
      for (std::size_t p = 0; p < points;) {
        const auto state = chart.series[0].values[p];
        std::size_t end = p;
        while (end + 1 < points && chart.series[0].values[end + 1] == state) ++end;
        if (state) {
          const double left = x(interval_start(p));
          svg += "<rect class=\"" + std::string(*state >= 1 ? "k-up" : "k-down") + "\" x=\"" +
                 Coordinate(left) + "\" y=\"" + Coordinate(kTop) + "\" width=\"" +
                 Coordinate(std::max(x(chart.seconds_ago[end]) - left, 1.0)) + "\" height=\"" +
                 Coordinate(kPlotHeight) + "\"><title>" + (*state >= 1 ? "up" : "down") +
                 "</title></rect>\n";
        }
        p = end + 1;
      }
      break;
    case Chart::Style::kStacked: {
      std::vector<double> base(points, 0);
      for (const auto& series : chart.series) {
        std::string d;
        std::vector<double> upper(points);
        for (std::size_t p = 0; p < points; ++p) {
          upper[p] = base[p] + series.values[p].value_or(0);
          d += (p == 0 ? "M" : "L") + Coordinate(x(chart.seconds_ago[p])) + "," +
               Coordinate(y(upper[p]));
        }
        for (std::size_t p = points; p-- > 0;) {
          d += "L" + Coordinate(x(chart.seconds_ago[p])) + "," + Coordinate(y(base[p]));
        }
        if (points > 0) {
          svg += "<path class=\"k-" + CssName(series.name) + "\" d=\"" + d + "Z\"/>\n";
        }
        base = std::move(upper);
      }
      break;
    }
    case Chart::Style::kLines:
      for (std::size_t s = 0; s < chart.series.size(); ++s) {
        std::string d;
        bool pen_down = false;
        for (std::size_t p = 0; p < points; ++p) {
          const auto& value = chart.series[s].values[p];
          if (!value) {
            pen_down = false;
            continue;
          }
          d += (pen_down ? "L" : "M") + Coordinate(x(chart.seconds_ago[p])) + "," +
               Coordinate(y(*value));
          pen_down = true;
        }
        if (!d.empty()) {
          svg += "<path class=\"line s" + std::to_string(s % 4) + "\" d=\"" + d + "\"/>\n";
        }
      }
      break;
  }
  svg += "</svg>\n<p class=\"legend\">";
  if (chart.style == Chart::Style::kUpDown) {
    svg += "<span class=\"key k-up\"></span>up<span class=\"key k-down\"></span>down";
  } else {
    for (std::size_t s = 0; s < chart.series.size(); ++s) {
      const std::string key = chart.style == Chart::Style::kStacked
                                  ? "k-" + CssName(chart.series[s].name)
                                  : "s" + std::to_string(s % 4);
      svg += "<span class=\"key " + key + "\"></span>" + HtmlEscape(chart.series[s].name);
    }
  }
  return svg + "</p></div>\n";
}

std::string RenderCharts(const std::vector<Chart>& charts, double sample_interval) {
  std::string html = "<div class=\"cols\">\n";
  for (const Chart& chart : charts) html += RenderChart(chart, sample_interval);
  return html + "</div>\n";
}

// A list of label values with their request counts, for top paths and clients.
std::string RenderTop(std::string_view title, std::string_view field,
                      const std::optional<NamedValues>& top, std::string_view label) {
  std::string html = "<div><h3>" + std::string(title) + " <small>last 5 min</small></h3>\n";
  if (!top) {
    return html + "<p class=\"muted\">Add <code>" + std::string(label) +
           "</code> to the collector's <code>labels</code> to list these (bounded by its "
           "<code>series_limit</code>).</p></div>\n";
  }
  if (top->empty()) return html + "<p class=\"muted\">no traffic</p></div>\n";
  html += "<div class=\"wrap\"><table data-list=\"" + std::string(field) +
          "\"><thead><tr><th scope=\"col\">" + std::string(label) +
          "</th><th scope=\"col\">requests</th></tr></thead><tbody>\n";
  for (const auto& [value, count] : *top) {
    html += "<tr><td><code>" + HtmlEscape(value) + "</code></td>" + Cell(fmt::Number(count)) +
            "</tr>\n";
  }
  return html + "</tbody></table></div></div>\n";
}

std::string RenderAccessLog(const SourceReport& source, double sample_interval) {
  std::string html =
      "<div class=\"wrap\"><table class=\"figures\">\n" + WindowHeader(source.windows);
  const auto row = [&](std::string_view title, std::string_view field, auto&& text) {
    html += "<tr><th scope=\"row\">" + std::string(title) + "</th>";
    for (const WindowFigures& figures : source.windows) {
      html += Cell(figures.span_seconds > 0 ? text(figures) : std::string("collecting"), field,
                   figures.window_seconds);
    }
    html += "</tr>\n";
  };
  row("Requests/s", "requests_per_second", [](const WindowFigures& f) {
    return f.requests > 0 ? fmt::Rate(f.requests_per_second) : std::string("no traffic");
  });
  row("Requests", "requests", [](const WindowFigures& f) { return fmt::Number(f.requests); });
  row("4xx share", "share_4xx",
      [](const WindowFigures& f) { return fmt::Share(f.share_4xx, f.requests); });
  row("5xx share", "share_5xx",
      [](const WindowFigures& f) { return fmt::Share(f.share_5xx, f.requests); });
  for (std::size_t q = 0; q < 3; ++q) {
    static constexpr std::array<std::string_view, 3> kNames = {"p50", "p90", "p99"};
    static constexpr std::array<std::string_view, 3> kFields = {"latency_p50", "latency_p90",
                                                                "latency_p99"};
    row(std::string("Latency ") + std::string(kNames[q]), kFields[q], [q](const WindowFigures& f) {
      if (f.requests <= 0) return std::string("no traffic");
      if (f.latency.size() <= q) return std::string("n/a");
      const QuantileEstimate& e = f.latency[q];
      if (std::isinf(e.upper)) return "> " + fmt::Seconds(e.lower);
      return "≈ " + fmt::Seconds(e.estimate) + " (" + fmt::Seconds(e.lower) + " – " +
             fmt::Seconds(e.upper) + ")";
    });
  }
  row("Response bytes/s", "response_bytes_per_second", [](const WindowFigures& f) {
    if (f.requests <= 0) return std::string("no traffic");
    return f.response_bytes_per_second ? fmt::Bytes(*f.response_bytes_per_second) + "/s"
                                       : std::string("n/a");
  });
  row("Unparsed lines", "parse_errors",
      [](const WindowFigures& f) { return fmt::Number(f.parse_errors); });
  html +=
      "</tbody></table></div>\n<p class=\"muted\">Latency is estimated from the histogram buckets "
      "(as PromQL's histogram_quantile does); the true value lies between the bucket bounds "
      "in brackets.</p>\n";

  const WindowFigures& five = source.windows.at(1);
  html += "<div class=\"cols\">\n<div><h3>Status mix <small>last 5 min</small></h3>\n";
  if (!five.has_status) {
    html +=
        "<p class=\"muted\">Add <code>status</code> to the collector's <code>labels</code> "
        "to see the status mix.</p>";
  } else if (five.requests <= 0) {
    html += "<p class=\"muted\">no traffic</p>";
  } else {
    html +=
        "<div class=\"wrap\"><table data-list=\"status\"><thead><tr><th scope=\"col\">status</th>"
        "<th scope=\"col\">requests</th><th scope=\"col\">share</th></tr></thead><tbody>\n";
    for (const auto& [status, count] : five.status_mix) {
      html += "<tr><td>" + HtmlEscape(status) + "</td>" + Cell(fmt::Number(count)) +
              Cell(fmt::Share(count / five.requests, five.requests)) + "</tr>\n";
    }
    html += "</tbody></table></div>";
  }
  html += "</div>\n";
  html += RenderTop("Top paths", "paths", five.top_paths, "path");
  html += RenderTop("Top clients", "clients", five.top_clients, "remote_addr");
  html += "</div>\n";
  html += RenderCharts(source.charts, sample_interval);
  return html;
}

std::string RenderStatusSource(const SourceReport& source, double sample_interval) {
  std::string html;
  if (!source.failure_reason.empty()) {
    html += "<p>Failure reason: <code class=\"err\">" + HtmlEscape(source.failure_reason) +
            "</code></p>\n";
  }
  if (!source.gauges.empty()) {
    html +=
        "<div class=\"wrap\"><table><thead><tr><th scope=\"col\">now</th>"
        "<th scope=\"col\">value</th></tr></thead><tbody>\n";
    for (const fmt::GaugeRow& row : fmt::GaugeRows(source)) {
      html += "<tr><td>" + HtmlEscape(row.title) + "</td>";
      if (!row.split) {
        const fmt::GaugeMember& gauge = row.members.front();
        html +=
            Cell(fmt::Gauge(source.kind, gauge.name, gauge.value), "gauge-" + CssName(gauge.name));
      } else {
        fmt::GaugeRow escaped = row;
        for (fmt::GaugeMember& member : escaped.members) member.label = HtmlEscape(member.label);
        html += "<td>" +
                fmt::SplitRowText(escaped,
                                  [&source](const fmt::GaugeMember& member) {
                                    return "<b data-field=\"gauge-" + CssName(member.name) + "\">" +
                                           fmt::Gauge(source.kind, member.name, member.value) +
                                           "</b>";
                                  }) +
                "</td>";
      }
      html += "</tr>\n";
    }
    html += "</tbody></table></div>\n";
  }
  html += "<div class=\"wrap\"><table class=\"figures\">\n" + WindowHeader(source.windows);
  html += "<tr><th scope=\"row\">Up</th>";
  for (const WindowFigures& figures : source.windows) {
    html += Cell(figures.up_ratio
                     ? fmt::Number(std::round(*figures.up_ratio * 1000) / 10) + " % of snapshots"
                     : std::string("collecting"),
                 "up_ratio", figures.window_seconds);
  }
  html += "</tr>\n";
  if (!source.windows.empty()) {
    for (std::size_t r = 0; r < source.windows.front().rates.size(); ++r) {
      html +=
          "<tr><th scope=\"row\">" + HtmlEscape(source.windows.front().rates[r].first) + "/s</th>";
      const std::string field = "rate-" + CssName(source.windows.front().rates[r].first);
      for (const WindowFigures& figures : source.windows) {
        html += Cell(figures.span_seconds > 0 && r < figures.rates.size()
                         ? fmt::Rate(figures.rates[r].second)
                         : std::string("collecting"),
                     field, figures.window_seconds);
      }
      html += "</tr>\n";
    }
  }
  html += "</tbody></table></div>\n";
  return html + RenderCharts(source.charts, sample_interval);
}

std::string RenderSource(const SourceReport& source, const CollectorState* state,
                         double sample_interval) {
  std::string html = "<section id=\"source-" + CssName(source.name) + "\" data-kind=\"" +
                     HtmlEscape(source.kind) + "\">\n<h2>" + HtmlEscape(source.name) + " <small>" +
                     HtmlEscape(source.title) + "</small> ";
  if (!source.collected) {
    html += Badge(false, "", "failing");
  } else if (source.source_up) {
    html += Badge(*source.source_up, "up", "down");
  } else {
    html += Badge(true, "up", "");
  }
  html += "</h2>\n";
  if (state != nullptr && !state->last_success && state->last_error_time) {
    html += "<p>Last error: <span class=\"err\">" + HtmlEscape(state->last_error) + "</span></p>\n";
  }
  if (source.kind == "access_log") {
    html += RenderAccessLog(source, sample_interval);
  } else if (!source.kind.empty()) {
    html += RenderStatusSource(source, sample_interval);
  }
  return html + "</section>\n";
}

std::string RenderCollectors(const StatusReport& report) {
  const auto now = report.page.now;
  std::string html =
      "<div class=\"wrap\"><table>\n<thead><tr><th scope=\"col\">Name</th><th "
      "scope=\"col\">Type</th>"
      "<th scope=\"col\">Source</th><th scope=\"col\">Collection</th><th scope=\"col\">Last "
      "success</th>"
      "<th scope=\"col\">Last duration</th><th scope=\"col\">Average, 5 min</th>"
      "<th scope=\"col\">Runs</th><th scope=\"col\">Errors</th><th scope=\"col\">Last error</th>"
      "</tr></thead><tbody>\n";
  for (const CollectorState& state : report.page.collectors) {
    html += "<tr><td>" + HtmlEscape(state.name) + "</td><td>" + HtmlEscape(state.type) +
            "</td><td class=\"source\">" + HtmlEscape(state.summary) + "</td><td>";
    if (state.runs == 0) {
      html += "<span class=\"idle\">not run yet</span>";
    } else {
      // The run, not the source: a probe that finds its target down still ran fine.
      html += Badge(state.last_success, "ok", "failing");
    }
    html += "</td><td>";
    html += state.last_success_time ? fmt::Ago(*state.last_success_time, now) : "never";
    html += "</td>" + Cell(fmt::Seconds(state.last_duration_seconds));
    std::string average = "n/a";
    for (const auto& [name, seconds] : report.exporter.average_collect_seconds) {
      if (name == state.name) average = fmt::Seconds(seconds);
    }
    html += Cell(average) + Cell(std::to_string(state.runs)) +
            Cell(std::to_string(state.errors_total)) + "<td>";
    if (state.last_error_time) {
      html += HtmlEscape(state.last_error) + " <span class=\"idle\">(" +
              fmt::Ago(*state.last_error_time, now) + ")</span>";
    }
    html += "</td></tr>\n";
  }
  return html + "</tbody></table></div>\n";
}

std::string RenderExporter(const StatusReport& report) {
  const StatusPageData& page = report.page;
  std::string html =
      "<section id=\"exporter\">\n<h2>Exporter</h2>\n<div class=\"wrap\"><table><tbody>\n";
  const auto row = [&html](std::string_view name, const std::string& value_html) {
    html +=
        "<tr><th scope=\"row\">" + std::string(name) + "</th><td>" + value_html + "</td></tr>\n";
  };
  row("Version", HtmlEscape(page.version) + " (revision " + HtmlEscape(page.revision) + ")");
  row("Uptime", fmt::Uptime(std::chrono::duration<double>(page.now - page.started).count()));
  row("Config file", "<code>" + HtmlEscape(page.config_file) + "</code>");
  row("Last reload", page.last_reload_successful
                         ? Badge(true, "successful", "")
                         : Badge(false, "", "failed") + ": " + HtmlEscape(page.last_reload_error));
  row("Liveness", page.health == "ok"
                      ? Badge(true, "ok", "")
                      : "<span class=\"err\">" + HtmlEscape(page.health) + "</span>");
  row("Readiness", page.readiness == "ready"
                       ? Badge(true, "ready", "")
                       : "<span class=\"err\">" + HtmlEscape(page.readiness) + "</span>");
  std::string scrapes;
  for (const auto& [window, rate] : report.exporter.scrapes_per_second) {
    scrapes += (scrapes.empty() ? "" : ", ") +
               (rate ? fmt::Rate(*rate) : std::string("collecting")) + " <small>(" +
               fmt::Span(window) + ")</small>";
  }
  row("Scrapes/s", scrapes);
  row("Resident memory", report.exporter.resident_memory_bytes
                             ? fmt::Bytes(*report.exporter.resident_memory_bytes)
                             : std::string("n/a"));
  html += "</tbody></table></div>\n<h3>Collectors</h3>\n" + RenderCollectors(report);

  std::string lag;
  for (const SourceReport& source : report.sources) {
    for (const auto& [file, bytes] : source.lag_bytes_by_file) {
      lag += "<tr><td>" + HtmlEscape(source.name) + "</td><td><code>" + HtmlEscape(file) +
             "</code></td>" + Cell(fmt::Bytes(bytes), "lag_bytes") + "</tr>\n";
    }
  }
  if (!lag.empty()) {
    html +=
        "<h3>Lag behind the logs</h3>\n<div class=\"wrap\"><table><thead><tr><th "
        "scope=\"col\">collector</th><th scope=\"col\">file</th><th scope=\"col\">written, "
        "not read yet</th></tr></thead><tbody>\n" +
        lag + "</tbody></table></div>\n";
  }
  html += RenderCharts(report.exporter.charts, report.sample_interval_seconds);
  return html + "</section>\n";
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool PrefersPlainText(std::string_view accept) {
  double plain = -1;
  double html = -1;
  std::size_t plain_order = 0;
  std::size_t html_order = 0;
  std::size_t order = 0;
  while (!accept.empty()) {
    const std::size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view{} : accept.substr(comma + 1);
    ++order;
    const std::size_t semicolon = item.find(';');
    std::string_view type = item.substr(0, semicolon);
    while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    double q = 1;
    if (semicolon != std::string_view::npos) {
      const std::size_t at = item.find("q=", semicolon);
      if (at != std::string_view::npos) q = std::atof(std::string(item.substr(at + 2)).c_str());
    }
    if (type == "text/plain" && q > plain) {
      plain = q;
      plain_order = order;
    } else if ((type == "text/html" || type == "application/xhtml+xml") && q > html) {
      html = q;
      html_order = order;
    }
  }
  if (plain <= 0) return false;
  return plain > html || (plain == html && plain_order < html_order);
}

std::string RenderStatusPage(const StatusReport& report, int refresh_seconds) {
  std::string html;
  html.reserve(64 * 1024);
  html +=
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  if (refresh_seconds > 0) {
    html += "<meta http-equiv=\"refresh\" content=\"" + std::to_string(refresh_seconds) + "\">\n";
  }
  html += "<title>sidecar-exporter status</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>";
  html += kStyle;
  html += "</style></head><body>\n<header><h1>sidecar-exporter</h1>\n<p class=\"muted\">";
  html += HtmlEscape(report.page.version) + " · up " +
          fmt::Uptime(std::chrono::duration<double>(report.page.now - report.page.started).count());
  html += " · a snapshot every " + fmt::Span(report.sample_interval_seconds) + ", the last " +
          fmt::Span(report.sample_interval_seconds * static_cast<double>(report.capacity - 1)) +
          " kept in memory (" + std::to_string(report.snapshots) + " snapshots, " +
          fmt::Bytes(static_cast<double>(report.history_bytes)) + ")";
  if (report.last_snapshot) {
    html += " · last " + fmt::Ago(*report.last_snapshot, report.page.now);
  }
  html += "<br>";
  if (refresh_seconds > 0) {
    html += "Refreshes every " + std::to_string(refresh_seconds) +
            " s (<a href=\"?refresh=0\">stop</a>) · ";
  } else {
    html += "Not refreshing (<a href=\"./\">refresh every 10 s</a>) · ";
  }
  html += "<a href=\"api/v1/status\">JSON</a> · <a href=\"" +
          RelativeLink(report.page.telemetry_path) + "\">metrics</a></p></header>\n<main>\n";
  if (report.sources.empty()) {
    html += "<p class=\"muted\">No snapshot yet: the first one is taken at start-up.</p>\n";
  }
  for (const SourceReport& source : report.sources) {
    const CollectorState* state = nullptr;
    for (const CollectorState& candidate : report.page.collectors) {
      if (candidate.name == source.name) state = &candidate;
    }
    html += RenderSource(source, state, report.sample_interval_seconds);
  }
  html += RenderExporter(report);
  html += "<section id=\"endpoints\"><h2>Endpoints</h2>\n<ul>\n";
  html += "<li><a href=\"" + RelativeLink(report.page.telemetry_path) + "\">" +
          HtmlEscape(report.page.telemetry_path) + "</a>: metrics for Prometheus</li>\n";
  html +=
      "<li><a href=\"api/v1/status\">/api/v1/status</a>: this page as JSON; "
      "<code>curl -H 'Accept: text/plain'</code> on / gives a text summary</li>\n";
  html += "<li><a href=\"healthz\">/healthz</a>: liveness</li>\n";
  html +=
      "<li><a href=\"readyz\">/readyz</a>: readiness (does not depend on the main "
      "container)</li>\n</ul></section>\n</main>\n</body></html>\n";
  return html;
}

}  // namespace sidecar
