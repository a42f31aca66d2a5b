#include "collectors/logs/request_metrics.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "collectors/core/config_decoder.h"
#include "collectors/core/merged_family.h"
#include "collectors/core/metric_family_builder.h"
#include "prometheus/client_metric.h"
#include "re2/re2.h"

namespace sidecar::accesslog {
namespace {

constexpr std::string_view kRequestsName = "accesslog_http_requests_total";
constexpr std::string_view kResponseSizeName = "accesslog_http_response_size_bytes_total";
constexpr std::string_view kRequestSizeName = "accesslog_http_request_size_bytes_total";
constexpr std::string_view kDurationName = "accesslog_http_request_duration_seconds";
constexpr std::string_view kUpstreamName = "accesslog_http_upstream_duration_seconds";
constexpr std::string_view kDroppedName = "sidecar_exporter_log_series_dropped_total";

bool ValidBuckets(const std::vector<double>& buckets) {
  if (buckets.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<double> DefaultDurationBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// Where one label's value comes from and what it may be.
struct RequestMetrics::LabelSource {
  enum class Kind { kString, kStatus, kUpstreamStatus, kNamed };
  std::string label;
  Kind kind = Kind::kString;
  Field field = Field::kMethod;
  std::string named;
  bool is_method = false;
  bool is_path = false;
  std::vector<std::string> allowed;  // Empty: any value.
  std::string_view other;            // Replaces values not allowed.
};

std::unique_ptr<RequestMetrics> RequestMetrics::Create(RequestMetricsOptions options,
                                                       OptionsError& error) {
  error = {};
  const auto fail = [&error](std::string option, std::string message) {
    error = {std::move(option), std::move(message)};
    return nullptr;
  };
  if (options.labels.size() + options.extra_labels.size() > kMaxLabels) {
    return fail("labels", "too many labels (at most " + std::to_string(kMaxLabels) + ")");
  }
  if (options.series_limit == 0) {
    return fail("series_limit", "series_limit must be at least 1");
  }
  if (!ValidBuckets(options.duration_buckets) || !ValidBuckets(options.upstream_duration_buckets)) {
    return fail("duration_buckets",
                "histogram buckets must be finite, strictly increasing and not empty");
  }
  std::vector<std::string> names;
  auto check_name = [&](const std::string& label, const char* option) {
    if (!IsValidLabelName(label) || label == "collector" || label == "le") {
      error = {option, "invalid label name '" + label + "'"};
      return false;
    }
    for (const std::string& name : names) {
      if (name == label) {
        error = {option, "label '" + label + "' given twice"};
        return false;
      }
    }
    names.push_back(label);
    return true;
  };
  for (const std::string& label : options.labels) {
    if (!check_name(label, "labels")) {
      return nullptr;
    }
    const std::optional<Field> field = FieldFromName(label);
    if (!field || FieldName(*field) != label) {
      return fail("labels",
                  "unknown label '" + label +
                      "': labels are standard field names (method, status, path, host...); use "
                      "extra_labels for other fields");
    }
    if (!IsStringField(*field) && *field != Field::kStatus && *field != Field::kUpstreamStatus) {
      return fail("labels",
                  "label '" + label + "' would take a new value with almost every request");
    }
    if (!options.fields.Has(*field)) {
      return fail("labels", "label '" + label + "' needs the field '" + label +
                                "', which the log format does not have");
    }
  }
  for (const ExtraLabel& extra : options.extra_labels) {
    if (!check_name(extra.label, "extra_labels")) {
      return nullptr;
    }
    if (extra.field.empty()) {
      return fail("extra_labels", "extra label '" + extra.label + "' has no field");
    }
  }
  for (const LabelAllowList& allow : options.allowed_values) {
    bool known = false;
    for (const std::string& name : names) {
      known = known || name == allow.label;
    }
    if (!known) {
      return fail("allowed_values",
                  "allowed values given for '" + allow.label + "', which is not a label");
    }
  }
  auto metrics = std::make_unique<RequestMetrics>(PassKey(), std::move(options));
  for (const PathRewrite& rewrite : metrics->options_.path_rewrites) {
    RE2::Options re_options;
    re_options.set_encoding(RE2::Options::EncodingLatin1);
    re_options.set_log_errors(false);
    auto re = std::make_unique<RE2>(rewrite.pattern, re_options);
    std::string rewrite_error;
    if (!re->ok()) {
      return fail("path_rewrites",
                  "invalid path rewrite '" + rewrite.pattern + "': " + re->error());
    }
    if (!re->CheckRewriteString(rewrite.replacement, &rewrite_error)) {
      return fail("path_rewrites", "invalid replacement '" + rewrite.replacement +
                                       "' for path rewrite '" + rewrite.pattern +
                                       "': " + rewrite_error);
    }
    metrics->path_rewrites_.push_back(std::move(re));
  }
  return metrics;
}

RequestMetrics::RequestMetrics(PassKey /*key*/, RequestMetricsOptions options)
    : options_(std::move(options)), limiter_(options_.series_limit) {
  const FieldSet& fields = options_.fields;
  has_response_size_ = fields.Has(Field::kBodyBytesSent) || fields.Has(Field::kBytesSent);
  response_from_body_ = fields.Has(Field::kBodyBytesSent);
  has_request_size_ = fields.Has(Field::kRequestLength);
  has_duration_ = fields.Has(Field::kRequestTime);
  has_upstream_ = fields.Has(Field::kUpstreamResponseTime);

  auto add_source = [&](const std::string& label, const std::string& field_name) {
    LabelSource& source = sources_.emplace_back();
    source.label = label;
    const std::optional<Field> field = FieldFromName(field_name);
    if (!field ||
        (!IsStringField(*field) && *field != Field::kStatus && *field != Field::kUpstreamStatus)) {
      source.kind = LabelSource::Kind::kNamed;
      source.named = field_name;
    } else {
      source.field = *field;
      source.kind = *field == Field::kStatus           ? LabelSource::Kind::kStatus
                    : *field == Field::kUpstreamStatus ? LabelSource::Kind::kUpstreamStatus
                                                       : LabelSource::Kind::kString;
      source.is_method = *field == Field::kMethod;
      source.is_path = *field == Field::kPath;
    }
    source.other = "other";
    if (source.is_method) {
      source.allowed = options_.methods;
      source.other = "OTHER";
    }
    for (const LabelAllowList& allow : options_.allowed_values) {
      if (allow.label == label) {
        source.allowed = allow.values;
      }
    }
  };
  for (const std::string& label : options_.labels) {
    add_source(label, label);
  }
  for (const ExtraLabel& extra : options_.extra_labels) {
    add_source(extra.label, extra.field);
  }
  buffers_.resize(sources_.size());
  for (std::string& buffer : buffers_) {
    buffer.reserve(kMaxLabelValueBytes);
  }
  overflow_.values.assign(sources_.size(), std::string(kOverflowValue));
  overflow_.duration.counts.resize(options_.duration_buckets.size() + 1);
  overflow_.upstream.counts.resize(options_.upstream_duration_buckets.size() + 1);
}

RequestMetrics::~RequestMetrics() = default;

std::string_view RequestMetrics::Resolve(std::size_t index, const LogRecord& record) {
  const LabelSource& source = sources_[index];
  std::string& buffer = buffers_[index];
  std::string_view value;
  switch (source.kind) {
    case LabelSource::Kind::kStatus:
    case LabelSource::Kind::kUpstreamStatus: {
      const std::optional<std::uint32_t>& status =
          source.kind == LabelSource::Kind::kStatus ? record.status : record.upstream_status;
      if (!status) {
        return {};
      }
      // Statuses are at most 999 (the parsers check), so three digits.
      char digits[3] = {static_cast<char>('0' + *status / 100),
                        static_cast<char>('0' + *status / 10 % 10),
                        static_cast<char>('0' + *status % 10)};
      if (options_.status_class) {
        digits[1] = digits[2] = 'x';
      }
      buffer.assign(digits, 3);
      value = buffer;
      break;
    }
    case LabelSource::Kind::kNamed:
      value = record.Named(source.named);
      break;
    case LabelSource::Kind::kString:
      value = record.String(source.field);
      break;
  }
  if (source.is_path && !path_rewrites_.empty() && !value.empty()) {
    path_.assign(value);
    for (std::size_t i = 0; i < path_rewrites_.size(); ++i) {
      RE2::GlobalReplace(&path_, *path_rewrites_[i], options_.path_rewrites[i].replacement);
    }
    value = path_;
  }
  if (!source.allowed.empty() && !value.empty()) {
    bool allowed = false;
    for (const std::string& candidate : source.allowed) {
      if (candidate == value) {
        allowed = true;
        break;
      }
    }
    if (!allowed) {
      return source.other;
    }
  }
  // Sanitizing writes `buffer` only for invalid text, never the case of a status held there.
  return CleanLabelValue(value, buffer);
}

RequestMetrics::Series& RequestMetrics::NewSeries(std::size_t label_count) {
  Series& series = series_.emplace_back();
  series.values.reserve(label_count);
  for (std::size_t i = 0; i < label_count; ++i) {
    series.values.emplace_back(values_[i]);
  }
  if (has_duration_) {
    series.duration.counts.resize(options_.duration_buckets.size() + 1);
  }
  if (has_upstream_) {
    series.upstream.counts.resize(options_.upstream_duration_buckets.size() + 1);
  }
  return series;
}

void RequestMetrics::ObserveHistogram(Histogram& histogram, const std::vector<double>& bounds,
                                      double value) {
  std::size_t bucket = 0;
  while (bucket < bounds.size() && value > bounds[bucket]) {
    ++bucket;
  }
  ++histogram.counts[bucket];
  histogram.sum += value;
}

void RequestMetrics::Observe(const LogRecord& record) {
  // Label values are resolved and encoded outside the lock: only this thread touches them.
  const std::size_t label_count = sources_.size();
  key_.clear();
  for (std::size_t i = 0; i < label_count; ++i) {
    const std::string_view value = Resolve(i, record);
    values_[i] = value;
    AppendLabelKey(key_, value);
  }

  std::lock_guard lock(mutex_);
  bool created = false;
  const std::size_t index = limiter_.Find(key_, created);
  Series* series = nullptr;
  if (index == SeriesLimiter::kOverflow) {
    series = &overflow_;
    overflow_used_ = true;
  } else {
    series = created ? &NewSeries(label_count) : &series_[index];
  }
  ++series->requests;
  if (has_response_size_) {
    const std::optional<std::uint64_t>& bytes =
        response_from_body_ ? record.body_bytes_sent : record.bytes_sent;
    if (bytes) {
      series->response_bytes += *bytes;
    }
  }
  if (has_request_size_ && record.request_length) {
    series->request_bytes += *record.request_length;
  }
  if (has_duration_ && record.request_time) {
    ObserveHistogram(series->duration, options_.duration_buckets, *record.request_time);
  }
  if (has_upstream_ && record.upstream_response_time) {
    ObserveHistogram(series->upstream, options_.upstream_duration_buckets,
                     *record.upstream_response_time);
  }
}

std::size_t RequestMetrics::SeriesCount() const {
  std::lock_guard lock(mutex_);
  return limiter_.size();
}

const std::shared_ptr<const SeriesLabels>& RequestMetrics::CurrentLabels() const {
  const std::size_t count = series_.size() + (overflow_used_ ? 1 : 0);
  if (labels_ && labels_->size() == count) {
    return labels_;
  }
  // Series only ever get added (the overflow one last: the limit is reached by then), and the
  // previous labels may still be in use by a scrape: a new copy with them all.
  auto labels = std::make_shared<SeriesLabels>();
  std::string escaped;
  const auto add = [&](const Series& series) {
    escaped.assign("collector=\"");
    AppendEscapedLabelValue(options_.collector, escaped);
    escaped += '"';
    for (std::size_t i = 0; i < sources_.size(); ++i) {
      escaped += ',';
      escaped += sources_[i].label;
      escaped += "=\"";
      AppendEscapedLabelValue(series.values[i], escaped);
      escaped += '"';
    }
    labels->Add(escaped);
  };
  for (const Series& series : series_) {
    add(series);
  }
  if (overflow_used_) {
    add(overflow_);
  }
  labels_ = std::move(labels);
  return labels_;
}

std::vector<std::string_view> RequestMetrics::ExportedNames() const {
  std::vector<std::string_view> names = {kRequestsName};
  if (has_response_size_) {
    names.push_back(kResponseSizeName);
  }
  if (has_request_size_) {
    names.push_back(kRequestSizeName);
  }
  if (has_duration_) {
    names.push_back(kDurationName);
  }
  if (has_upstream_) {
    names.push_back(kUpstreamName);
  }
  return names;
}

std::vector<SeriesFamily> RequestMetrics::CollectSeries() const {
  std::vector<SeriesFamily> families;
  const auto add_family = [&](std::string_view name, std::string help,
                              prometheus::MetricType type) -> SeriesFamily& {
    SeriesFamily& family = families.emplace_back();
    family.name = name;
    family.help = std::move(help);
    family.type = type;
    return family;
  };
  // Pointers into `families` are taken once it has all its elements.
  families.reserve(5);
  add_family(kRequestsName, "Requests counted from the lines of the access log, one per line.",
             prometheus::MetricType::Counter);
  if (has_response_size_) {
    add_family(kResponseSizeName,
               response_from_body_
                   ? "Response body bytes summed from the access log ($body_bytes_sent, %b, %B)."
                   : "Response bytes with headers summed from the access log ($bytes_sent, %O).",
               prometheus::MetricType::Counter);
  }
  if (has_request_size_) {
    add_family(kRequestSizeName,
               "Request bytes with headers summed from the access log ($request_length, %I).",
               prometheus::MetricType::Counter);
  }
  if (has_duration_) {
    add_family(kDurationName,
               "Request time from the access log ($request_time, %D, %T), in seconds.",
               prometheus::MetricType::Histogram)
        .bounds = options_.duration_buckets;
  }
  if (has_upstream_) {
    add_family(kUpstreamName,
               "Upstream response time from the access log ($upstream_response_time, all "
               "attempts summed), in seconds.",
               prometheus::MetricType::Histogram)
        .bounds = options_.upstream_duration_buckets;
  }
  SeriesFamily* next = families.data();
  SeriesFamily* requests = next++;
  SeriesFamily* response_size = has_response_size_ ? next++ : nullptr;
  SeriesFamily* request_size = has_request_size_ ? next++ : nullptr;
  SeriesFamily* duration = has_duration_ ? next++ : nullptr;
  SeriesFamily* upstream = has_upstream_ ? next++ : nullptr;
  for (SeriesFamily* histogram : {duration, upstream}) {
    if (histogram != nullptr) {
      histogram->bounds.push_back(std::numeric_limits<double>::infinity());
    }
  }
  const auto add_histogram = [](SeriesFamily& family, const Histogram& histogram) {
    family.values.push_back(histogram.sum);
    std::uint64_t cumulative = 0;
    for (const std::uint64_t count : histogram.counts) {
      cumulative += count;
      family.counts.push_back(cumulative);
    }
  };

  // The numbers are copied under the lock, straight into the families.
  std::lock_guard lock(mutex_);
  const std::shared_ptr<const SeriesLabels>& labels = CurrentLabels();
  for (SeriesFamily& family : families) {
    family.labels = labels;
    family.values.reserve(labels->size());
    family.counts.reserve(labels->size() * family.bounds.size());
  }
  const auto take = [&](const Series& series) {
    requests->values.push_back(static_cast<double>(series.requests));
    if (response_size != nullptr) {
      response_size->values.push_back(static_cast<double>(series.response_bytes));
    }
    if (request_size != nullptr) {
      request_size->values.push_back(static_cast<double>(series.request_bytes));
    }
    if (duration != nullptr) {
      add_histogram(*duration, series.duration);
    }
    if (upstream != nullptr) {
      add_histogram(*upstream, series.upstream);
    }
  };
  for (const Series& series : series_) {
    take(series);
  }
  if (overflow_used_) {
    take(overflow_);
  }
  return families;
}

prometheus::MetricFamily RequestMetrics::CollectDropped() const {
  std::uint64_t dropped = 0;
  {
    std::lock_guard lock(mutex_);
    dropped = limiter_.dropped();
  }
  MetricFamilyBuilder family(
      std::string(kDroppedName),
      "Label sets of access-log metrics counted in the __overflow__ series because the series "
      "limit was reached.",
      prometheus::MetricType::Counter, {{"collector", options_.collector}});
  for (std::string_view name : ExportedNames()) {
    family.Add(static_cast<double>(dropped), {{"metric", std::string(name)}});
  }
  return family.Build();
}

std::vector<prometheus::MetricFamily> RequestMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  for (const SeriesFamily& family : CollectSeries()) {
    families.push_back(ToMetricFamily(family));
  }
  families.push_back(CollectDropped());
  return families;
}

}  // namespace sidecar::accesslog
