#include "exporter/status_page.h"

#include <cstdio>

namespace sidecar {
namespace {

std::string Ago(std::chrono::system_clock::time_point then,
                std::chrono::system_clock::time_point now) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - then).count();
  if (seconds < 1) return "just now";
  if (seconds < 120) return std::to_string(seconds) + "s ago";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m ago";
  return std::to_string(seconds / 3600) + "h ago";
}

std::string Uptime(std::chrono::system_clock::duration elapsed) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(elapsed).count();
  const auto days = seconds / 86400;
  seconds %= 86400;
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%lldd %02lldh %02lldm %02llds",
                static_cast<long long>(days), static_cast<long long>(seconds / 3600),
                static_cast<long long>(seconds / 60 % 60), static_cast<long long>(seconds % 60));
  return buffer;
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

std::string RenderStatusPage(const StatusPageData& data) {
  std::string html;
  html.reserve(4096);
  html += R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sidecar-exporter</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.35em .7em;text-align:left;vertical-align:top}
th{background:#f4f4f4}.ok{color:#1a7f37;font-weight:bold}.err{color:#cf222e;font-weight:bold}.idle{color:#777}
code{background:#f4f4f4;padding:0 .25em}.source{white-space:pre-line;font-size:.9em}
</style></head><body>
<h1>sidecar-exporter</h1>
<table>
)";
  const auto row = [&html](std::string_view name, const std::string& value_html) {
    html += "<tr><th>";
    html += name;
    html += "</th><td>" + value_html + "</td></tr>\n";
  };
  row("Version", HtmlEscape(data.version) + " (revision " + HtmlEscape(data.revision) + ")");
  row("Uptime", Uptime(data.now - data.started));
  row("Config file", "<code>" + HtmlEscape(data.config_file) + "</code>");
  row("Last reload",
      data.last_reload_successful
          ? std::string("<span class=\"ok\">successful</span>")
          : "<span class=\"err\">failed</span>: " + HtmlEscape(data.last_reload_error));
  row("Liveness", data.health == "ok"
                      ? std::string("<span class=\"ok\">ok</span>")
                      : "<span class=\"err\">" + HtmlEscape(data.health) + "</span>");
  row("Readiness", data.readiness == "ready"
                       ? std::string("<span class=\"ok\">ready</span>")
                       : "<span class=\"err\">" + HtmlEscape(data.readiness) + "</span>");
  html +=
      "</table>\n<h2>Collectors</h2>\n<table>\n<tr><th>Name</th><th>Type</th><th>Source</th>"
      "<th>State</th>"
      "<th>Last success</th><th>Last duration</th><th>Runs</th><th>Errors</th>"
      "<th>Last error</th></tr>\n";
  for (const CollectorState& state : data.collectors) {
    html += "<tr><td>" + HtmlEscape(state.name) + "</td><td>" + HtmlEscape(state.type) +
            "</td><td class=\"source\">" + HtmlEscape(state.summary) + "</td><td>";
    if (state.runs == 0) {
      html += "<span class=\"idle\">not run yet</span>";
    } else if (state.last_success) {
      html += "<span class=\"ok\">up</span>";
    } else {
      html += "<span class=\"err\">failing</span>";
    }
    html += "</td><td>";
    html += state.last_success_time ? Ago(*state.last_success_time, data.now) : "never";
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.1f ms", state.last_duration_seconds * 1000);
    html += std::string("</td><td>") + duration + "</td><td>" + std::to_string(state.runs) +
            "</td><td>" + std::to_string(state.errors_total) + "</td><td>";
    if (state.last_error_time) {
      html += HtmlEscape(state.last_error) + " <span class=\"idle\">(" +
              Ago(*state.last_error_time, data.now) + ")</span>";
    }
    html += "</td></tr>\n";
  }
  html += "</table>\n<h2>Endpoints</h2>\n<ul>\n";
  html += "<li><a href=\"" + HtmlEscape(data.telemetry_path) + "\">" +
          HtmlEscape(data.telemetry_path) + "</a>: metrics for Prometheus</li>\n";
  html += "<li><a href=\"/healthz\">/healthz</a>: liveness</li>\n";
  html +=
      "<li><a href=\"/readyz\">/readyz</a>: readiness (does not depend on the main "
      "container)</li>\n</ul>\n</body></html>\n";
  return html;
}

}  // namespace sidecar
