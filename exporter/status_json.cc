// /api/v1/status: the status report as JSON. The field names are an interface (README,
// "Status API"): add fields, never rename or remove one.

#include <charconv>
#include <cmath>
#include <cstdio>

#include "exporter/status_page.h"

namespace sidecar {
namespace {

// Writes JSON into a string; the caller pairs Begin/End calls. Commas are placed automatically.
class JsonWriter {
 public:
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view key) {
    Separate();
    String(key);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  JsonWriter& Value(std::string_view text) {
    Separate();
    String(text);
    return *this;
  }
  JsonWriter& Value(const char* text) { return Value(std::string_view(text)); }
  JsonWriter& Value(bool value) {
    Separate();
    out_ += value ? "true" : "false";
    return *this;
  }
  // Non-finite numbers have no JSON form: null (and +Inf bucket bounds are written as null).
  JsonWriter& Value(double value) {
    Separate();
    if (!std::isfinite(value)) {
      out_ += "null";
      return *this;
    }
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out_.append(buffer, result.ptr);
    return *this;
  }
  JsonWriter& Value(std::size_t value) { return Value(static_cast<double>(value)); }
  JsonWriter& Value(int value) { return Value(static_cast<double>(value)); }
  JsonWriter& Null() {
    Separate();
    out_ += "null";
    return *this;
  }
  JsonWriter& Value(const std::optional<double>& value) { return value ? Value(*value) : Null(); }
  template <typename T>
  JsonWriter& Field(std::string_view key, const T& value) {
    Key(key);
    return Value(value);
  }
  std::string Take() { return std::move(out_) + "\n"; }

 private:
  JsonWriter& Open(char bracket) {
    Separate();
    out_ += bracket;
    first_ = true;
    return *this;
  }
  JsonWriter& Close(char bracket) {
    out_ += bracket;
    first_ = false;
    return *this;
  }
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_) out_ += ',';
    first_ = false;
  }
  void String(std::string_view text) {
    out_ += '"';
    for (const char c : text) {
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\t':
          out_ += "\\t";
          break;
        case '\r':
          out_ += "\\r";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
            out_ += escaped;
          } else {
            out_ += c;
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};

double UnixSeconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

void WriteNamed(JsonWriter& json, const NamedValues& values, std::string_view name_key,
                std::string_view value_key) {
  json.BeginArray();
  for (const auto& [name, value] : values) {
    json.BeginObject().Field(name_key, name).Field(value_key, value).EndObject();
  }
  json.EndArray();
}

void WriteCharts(JsonWriter& json, const std::vector<Chart>& charts) {
  json.Key("charts").BeginArray();
  for (const Chart& chart : charts) {
    json.BeginObject().Field("title", chart.title).Field("unit", chart.unit);
    json.Field("style", chart.style == Chart::Style::kStacked  ? "stacked"
                        : chart.style == Chart::Style::kUpDown ? "up_down"
                                                               : "lines");
    json.Key("seconds_ago").BeginArray();
    for (const double ago : chart.seconds_ago) json.Value(ago);
    json.EndArray().Key("series").BeginArray();
    for (const auto& series : chart.series) {
      json.BeginObject().Field("name", series.name).Key("values").BeginArray();
      for (const auto& value : series.values) json.Value(value);
      json.EndArray().EndObject();
    }
    json.EndArray().EndObject();
  }
  json.EndArray();
}

void WriteWindow(JsonWriter& json, const SourceReport& source, const WindowFigures& figures) {
  json.BeginObject()
      .Field("window_seconds", figures.window_seconds)
      .Field("span_seconds", figures.span_seconds);
  if (source.kind == "access_log") {
    json.Field("requests", figures.requests)
        .Field("requests_per_second", figures.requests_per_second)
        .Field("traffic", figures.requests > 0)
        .Field("share_4xx", figures.share_4xx)
        .Field("share_5xx", figures.share_5xx)
        .Field("response_bytes_per_second", figures.response_bytes_per_second)
        .Field("parse_errors", figures.parse_errors);
    json.Key("latency_seconds").BeginArray();
    for (const QuantileEstimate& estimate : figures.latency) {
      json.BeginObject()
          .Field("quantile", estimate.quantile)
          .Field("estimate", estimate.estimate)
          .Field("lower_bound", estimate.lower)
          .Field("upper_bound", estimate.upper)
          .EndObject();
    }
    json.EndArray();
    json.Key("status");
    if (figures.has_status) {
      WriteNamed(json, figures.status_mix, "status", "requests");
    } else {
      json.Null();
    }
    json.Key("top_paths");
    figures.top_paths ? WriteNamed(json, *figures.top_paths, "path", "requests")
                      : (void)json.Null();
    json.Key("top_clients");
    figures.top_clients ? WriteNamed(json, *figures.top_clients, "client", "requests")
                        : (void)json.Null();
  } else {
    json.Field("up_ratio", figures.up_ratio).Key("rates");
    WriteNamed(json, figures.rates, "name", "per_second");
  }
  json.EndObject();
}

}  // namespace

std::string RenderStatusJson(const StatusReport& report) {
  const StatusPageData& page = report.page;
  JsonWriter json;
  json.BeginObject()
      .Field("version", page.version)
      .Field("revision", page.revision)
      .Field("time", UnixSeconds(page.now))
      .Field("uptime_seconds", std::chrono::duration<double>(page.now - page.started).count())
      .Field("health", page.health)
      .Field("readiness", page.readiness)
      .Field("last_reload_successful", page.last_reload_successful)
      .Field("last_reload_error", page.last_reload_error);
  json.Key("history")
      .BeginObject()
      .Field("sample_interval_seconds", report.sample_interval_seconds)
      .Field("snapshots", report.snapshots)
      .Field("capacity", report.capacity)
      .Field("span_seconds", report.history_span_seconds)
      .Field("memory_bytes", report.history_bytes)
      .Key("last_snapshot_time");
  report.last_snapshot ? (void)json.Value(UnixSeconds(*report.last_snapshot)) : (void)json.Null();
  json.EndObject();

  json.Key("sources").BeginArray();
  for (const SourceReport& source : report.sources) {
    json.BeginObject()
        .Field("name", source.name)
        .Field("type", source.type)
        .Field("kind", source.kind)
        .Field("collected", source.collected)
        .Key("up");
    source.source_up ? (void)json.Value(*source.source_up) : (void)json.Null();
    json.Field("failure_reason", source.failure_reason).Key("gauges");
    WriteNamed(json, source.gauges, "name", "value");
    json.Key("lag_bytes");
    WriteNamed(json, source.lag_bytes_by_file, "file", "bytes");
    json.Key("windows").BeginArray();
    for (const WindowFigures& figures : source.windows) WriteWindow(json, source, figures);
    json.EndArray();
    WriteCharts(json, source.charts);
    json.EndObject();
  }
  json.EndArray();

  json.Key("exporter").BeginObject().Key("scrapes_per_second").BeginArray();
  for (const auto& [window, rate] : report.exporter.scrapes_per_second) {
    json.BeginObject().Field("window_seconds", window).Field("per_second", rate).EndObject();
  }
  json.EndArray().Field("resident_memory_bytes", report.exporter.resident_memory_bytes);
  json.Key("collectors").BeginArray();
  for (const CollectorState& state : page.collectors) {
    std::optional<double> average;
    for (const auto& [name, seconds] : report.exporter.average_collect_seconds) {
      if (name == state.name) average = seconds;
    }
    json.BeginObject()
        .Field("name", state.name)
        .Field("type", state.type)
        .Field("runs", static_cast<double>(state.runs))
        .Field("errors_total", static_cast<double>(state.errors_total))
        .Field("last_success", state.last_success)
        .Field("last_duration_seconds", state.last_duration_seconds)
        .Field("average_duration_seconds", average)
        .Field("last_error", state.last_error)
        .Field("summary", state.summary)
        .EndObject();
  }
  json.EndArray();
  WriteCharts(json, report.exporter.charts);
  json.EndObject().EndObject();
  return json.Take();
}

}  // namespace sidecar
