#include "collectors/http/json_collector.h"

#include <charconv>
#include <memory>
#include <unordered_set>

#include "collectors/http/http_fetcher.h"
#include "re2/re2.h"

namespace sidecar {
namespace {

std::optional<double> ParseNumber(std::string_view text) {
  double value = 0;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> Mapped(const JsonMetric& metric, std::string_view text) {
  for (const auto& [key, value] : metric.value_map) {
    if (key == text) return value;
  }
  return std::nullopt;
}

// The value of a series, or nullopt when it cannot be one.
std::optional<double> ToValue(simdjson::dom::element element, const JsonMetric& metric) {
  switch (element.type()) {
    case simdjson::dom::element_type::INT64:
      return static_cast<double>(std::int64_t(element));
    case simdjson::dom::element_type::UINT64:
      return static_cast<double>(std::uint64_t(element));
    case simdjson::dom::element_type::DOUBLE:
      return double(element);
    case simdjson::dom::element_type::BOOL: {
      const bool value = bool(element);
      if (auto mapped = Mapped(metric, value ? "true" : "false")) return mapped;
      return value ? 1 : 0;
    }
    case simdjson::dom::element_type::STRING: {
      const std::string_view text = std::string_view(element);
      if (auto mapped = Mapped(metric, text)) return mapped;
      return ParseNumber(text);
    }
    default:
      return std::nullopt;
  }
}

// A JSON scalar as a label value; objects, arrays and null give "".
std::string ToLabelValue(simdjson::dom::element element) {
  switch (element.type()) {
    case simdjson::dom::element_type::STRING:
      return std::string(std::string_view(element));
    case simdjson::dom::element_type::INT64:
      return std::to_string(std::int64_t(element));
    case simdjson::dom::element_type::UINT64:
      return std::to_string(std::uint64_t(element));
    case simdjson::dom::element_type::DOUBLE: {
      char buffer[32];
      const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, double(element));
      return std::string(buffer, end);
    }
    case simdjson::dom::element_type::BOOL:
      return bool(element) ? "true" : "false";
    default:
      return "";
  }
}

}  // namespace

void MapJsonMetric(simdjson::dom::element root, const JsonMetric& metric,
                   const LabelPairs& base_labels, std::vector<prometheus::MetricFamily>& families,
                   std::uint64_t& conversion_errors) {
  MetricFamilyBuilder builder(metric.name, metric.help, metric.type, base_labels);
  std::unordered_set<std::string> seen;
  bool reached = false;
  metric.path.Evaluate(
      root, [&](simdjson::dom::element value, const std::vector<JsonPath::Binding>& bindings) {
        reached = true;
        const std::optional<double> number = ToValue(value, metric);
        if (!number) {
          ++conversion_errors;
          return;
        }
        LabelPairs labels;
        std::string identity;
        for (const JsonLabel& label : metric.labels) {
          std::string text;
          switch (label.source) {
            case JsonLabel::Source::kLiteral:
              text = label.literal;
              break;
            case JsonLabel::Source::kKey:
              text = bindings[label.wildcard].key;
              break;
            case JsonLabel::Source::kPath: {
              const simdjson::dom::element from = bindings.empty() ? root : bindings.back().item;
              if (auto found = label.path->Find(from)) text = ToLabelValue(*found);
              break;
            }
          }
          identity += text;
          identity += '\xff';  // cannot occur in valid UTF-8
          labels.emplace_back(label.name, std::move(text));
        }
        if (!seen.insert(std::move(identity)).second) {
          ++conversion_errors;
          return;
        }
        prometheus::ClientMetric& series = builder.NewMetric();
        for (auto& [name, text] : labels) series.label.push_back({name, std::move(text)});
        builder.SetValue(series, *number);
      });
  if (!reached) ++conversion_errors;
  if (!builder.empty()) families.push_back(builder.Build());
}

JsonCollector::JsonCollector(JsonOptions options)
    : StatusPageCollector(
          std::make_unique<HttpFetcher>(options.page.url, options.page.unix_socket,
                                        std::vector<std::string>{"Accept: application/json"}),
          {.up_name = "",
           .up_help = "",
           .timeout = options.page.timeout,
           .max_body_bytes = options.page.max_body_bytes,
           .labels = options.page.labels}),
      options_(std::move(options)),
      parser_(options_.page.max_body_bytes),
      conversion_errors_(options_.metrics.size(), 0) {}

std::optional<std::string> JsonCollector::Export(const FetchedDocument& document,
                                                 std::vector<prometheus::MetricFamily>& families) {
  simdjson::dom::element root;
  if (const auto error = parser_.parse(document.body).get(root); error != simdjson::SUCCESS) {
    return std::string("invalid JSON: ") + simdjson::error_message(error);
  }
  MetricFamilyBuilder errors("sidecar_exporter_json_conversion_errors_total",
                             "Values of the JSON document that a json collector's metric could "
                             "not turn into a sample (unmapped string, null, object, missing).",
                             prometheus::MetricType::Counter);
  for (std::size_t i = 0; i < options_.metrics.size(); ++i) {
    const JsonMetric& metric = options_.metrics[i];
    MapJsonMetric(root, metric, labels(), families, conversion_errors_[i]);
    errors.Add(static_cast<double>(conversion_errors_[i]),
               {{"collector", options_.collector}, {"metric", metric.name}});
  }
  families.push_back(errors.Build());
  return std::nullopt;
}

namespace {

std::optional<JsonLabel> DecodeLabel(FieldDecoder& fields, const std::string& name,
                                     const std::string& value, std::size_t wildcards) {
  JsonLabel label;
  label.name = name;
  const std::string key = "labels";
  if (value.starts_with("$key")) {
    label.source = JsonLabel::Source::kKey;
    const std::string_view number = std::string_view(value).substr(4);
    std::size_t n = wildcards;
    if (!number.empty()) {
      const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
      if (ec != std::errc() || end != number.data() + number.size()) {
        fields.Error(key, "label " + name + ": \"" + value + "\" is not $key or $keyN");
        return std::nullopt;
      }
    }
    if (n == 0 || n > wildcards) {
      fields.Error(key, "label " + name + ": \"" + value + "\" names wildcard " +
                            std::to_string(n) + " but the path has " + std::to_string(wildcards));
      return std::nullopt;
    }
    label.wildcard = n - 1;
  } else if (value.starts_with("@")) {
    label.source = JsonLabel::Source::kPath;
    std::string error;
    std::size_t offset = 0;
    label.path = JsonPath::Parse(value, error, offset);
    if (!label.path) {
      fields.Error(key, "label " + name + ": invalid path \"" + value + "\" at byte " +
                            std::to_string(offset) + ": " + error);
      return std::nullopt;
    }
    if (label.path->wildcards() != 0) {
      fields.Error(key, "label " + name + ": a label's path cannot have a wildcard");
      return std::nullopt;
    }
  } else {
    label.literal = value;
  }
  return label;
}

std::optional<JsonMetric> DecodeMetric(FieldDecoder& fields) {
  static const RE2 kMetricName("[a-zA-Z_:][a-zA-Z0-9_:]*");
  JsonMetric metric;
  metric.name = fields.RequiredString("name");
  if (!metric.name.empty() && !RE2::FullMatch(metric.name, kMetricName)) {
    fields.Error("name", "invalid metric name \"" + metric.name + "\"");
  }
  const std::string type = fields.Enum("type", "gauge", {"gauge", "counter", "untyped"});
  metric.type = type == "counter"   ? prometheus::MetricType::Counter
                : type == "untyped" ? prometheus::MetricType::Untyped
                                    : prometheus::MetricType::Gauge;
  const std::string path_text = fields.RequiredString("path");
  metric.help = fields.String("help", "Value at " + path_text + " of the JSON document.");
  std::string error;
  std::size_t offset = 0;
  std::optional<JsonPath> path = JsonPath::Parse(path_text, error, offset);
  if (!path) {
    fields.ErrorInValue("path", offset, "invalid path: " + error);
  } else if (path->relative()) {
    fields.Error("path", "a metric's path starts at the document: $, not @");
    path.reset();
  }
  const std::size_t wildcards = path ? path->wildcards() : 0;
  for (const auto& [name, value] : fields.StringMap("labels", /*label_names=*/true)) {
    if (auto label = DecodeLabel(fields, name, value, wildcards)) {
      metric.labels.push_back(std::move(*label));
    }
  }
  for (const auto& [text, value] : fields.StringMap("value_map", /*label_names=*/false)) {
    double number = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc() || end != value.data() + value.size()) {
      fields.Error("value_map", "value of \"" + text + "\" is not a number: \"" + value + "\"");
    }
    metric.value_map.emplace_back(text, number);
  }
  fields.RejectUnknownKeys();
  if (!path) return std::nullopt;
  metric.path = std::move(*path);
  return metric;
}

}  // namespace

CollectorFactory DecodeJson(FieldDecoder& fields, const CollectorDefaults& defaults) {
  auto options = std::make_shared<JsonOptions>();
  options->page = DecodeStatusPageOptions(fields, defaults, "http://127.0.0.1:8080/", 1 << 20);
  options->collector = defaults.name;
  std::unordered_set<std::string> names;
  for (FieldDecoder& metric_fields : fields.ChildList("metrics")) {
    if (auto metric = DecodeMetric(metric_fields)) {
      if (!names.insert(metric->name).second) {
        metric_fields.Error("name", "metric \"" + metric->name + "\" defined twice");
      }
      options->metrics.push_back(std::move(*metric));
    }
  }
  if (!fields.Has("metrics")) fields.Error("metrics", "missing required field \"metrics\"");
  return [options] { return std::make_unique<JsonCollector>(*options); };
}

}  // namespace sidecar
