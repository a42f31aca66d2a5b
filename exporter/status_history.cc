#include "exporter/status_history.h"

#include <algorithm>
#include <array>

namespace sidecar {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Well-known families, named as their collectors export them. A new kind of status source is
// one more profile here; the page and the JSON pick it up from these names alone.
constexpr std::array kNginxGauges = {
    FamilySpec{"nginx_connections_active", "", "active connections", "", true},
    FamilySpec{"nginx_connections_reading", "", "reading", "", true},
    FamilySpec{"nginx_connections_writing", "", "writing", "", true},
    FamilySpec{"nginx_connections_waiting", "", "waiting", "", true},
};
constexpr std::array kNginxCounters = {
    FamilySpec{"nginx_http_requests_total", "", "requests"},
    FamilySpec{"nginx_connections_accepted", "", "accepted connections"},
};
// The names of apache_exporter (Lusitaniae), which an Apache collector keeps for its dashboards.
constexpr std::array kApacheGauges = {
    FamilySpec{"apache_workers", "state", "workers", "", true},
    FamilySpec{"apache_connections", "state", "connections"},
    FamilySpec{"apache_scoreboard", "state", "scoreboard"},
};
constexpr std::array kApacheCounters = {
    FamilySpec{"apache_accesses_total", "", "requests"},
    FamilySpec{"apache_sent_kilobytes_total", "", "KiB sent"},
    FamilySpec{"apache_sent_bytes_total", "", "bytes sent"},
};
// The names of php-fpm_exporter (hipages), with and without `_total` on its counters.
constexpr std::array kPhpFpmGauges = {
    FamilySpec{"phpfpm_active_processes", "", "active processes", "", true},
    FamilySpec{"phpfpm_idle_processes", "", "idle processes", "", true},
    FamilySpec{"phpfpm_total_processes", "", "processes"},
    FamilySpec{"phpfpm_listen_queue", "", "listen queue", "", true},
    FamilySpec{"phpfpm_processes", "state", "processes"},
};
constexpr std::array kPhpFpmCounters = {
    FamilySpec{"phpfpm_accepted_connections", "", "accepted connections"},
    FamilySpec{"phpfpm_accepted_connections_total", "", "accepted connections"},
    FamilySpec{"phpfpm_slow_requests", "", "slow requests"},
    FamilySpec{"phpfpm_slow_requests_total", "", "slow requests"},
    FamilySpec{"phpfpm_max_children_reached", "", "max children reached"},
    FamilySpec{"phpfpm_max_children_reached_total", "", "max children reached"},
};
// The names of blackbox_exporter.
constexpr std::array kProbeGauges = {
    FamilySpec{"probe_duration_seconds", "", "duration", "s", true},
    FamilySpec{"probe_http_status_code", "", "HTTP status"},
};

constexpr std::array kProfiles = {
    StatusProfile{"nginx", "nginx", "nginx_up", kNginxGauges, kNginxCounters, ""},
    StatusProfile{"apache", "Apache", "apache_up", kApacheGauges, kApacheCounters, ""},
    StatusProfile{"php-fpm", "PHP-FPM", "phpfpm_up", kPhpFpmGauges, kPhpFpmCounters, ""},
    StatusProfile{"probe", "probe", "probe_success", kProbeGauges, {}, "probe_failure_reason"},
};

double ValueOf(MetricType type, const ClientMetric& metric) {
  switch (type) {
    case MetricType::Counter:
      return metric.counter.value;
    case MetricType::Gauge:
      return metric.gauge.value;
    case MetricType::Histogram:
      return static_cast<double>(metric.histogram.sample_count);
    case MetricType::Summary:
      return static_cast<double>(metric.summary.sample_count);
    default:
      return metric.untyped.value;
  }
}

const std::string* LabelValue(const ClientMetric& metric, std::string_view name) {
  for (const auto& label : metric.label) {
    if (label.name == name) return &label.value;
  }
  return nullptr;
}

const MetricFamily* FindFamily(const std::vector<MetricFamily>& families, std::string_view name) {
  for (const auto& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

const SeriesFamily* FindSeries(const std::vector<SeriesFamily>* families, std::string_view name) {
  if (families == nullptr) return nullptr;
  for (const auto& family : *families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

double Sum(const MetricFamily& family) {
  double sum = 0;
  for (const auto& metric : family.metric) sum += ValueOf(family.type, metric);
  return sum;
}

// Adds `value` under `name`, keeping at most `limit` names (the rest go to kOtherValues).
void AddNamed(NamedValues& values, std::string_view name, double value, std::size_t limit) {
  for (auto& [existing, total] : values) {
    if (existing == name) {
      total += value;
      return;
    }
  }
  if (values.size() + 1 >= limit && name != kOtherValues) {
    AddNamed(values, kOtherValues, value, limit + 1);
    return;
  }
  values.emplace_back(name, value);
}

// Keeps the `limit` largest values and sums the rest under kOtherValues, in a vector no larger
// than that (the ring holds it for 30 minutes).
NamedValues Largest(NamedValues values, std::size_t limit) {
  std::sort(values.begin(), values.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  NamedValues kept;
  kept.reserve(std::min(values.size(), limit + 1));
  double rest = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i < limit || values.size() == limit + 1) {
      kept.push_back(std::move(values[i]));
    } else {
      rest += values[i].second;
    }
  }
  if (values.size() > limit + 1) kept.emplace_back(kOtherValues, rest);
  return kept;
}

// The labels whose values tell a family's series apart, but for the split label and the
// collector label. Labels every series shares (a PHP-FPM pool's `pool` and `scrape_uri`) say
// nothing the section's title does not.
std::vector<std::string> VaryingLabels(const MetricFamily& family, std::string_view split_label) {
  std::vector<std::string> varying;
  if (family.metric.size() < 2) return varying;
  for (const auto& label : family.metric.front().label) {
    if (label.name == "collector" || label.name == split_label) continue;
    for (const auto& metric : family.metric) {
      const std::string* value = LabelValue(metric, label.name);
      if (value == nullptr || *value != label.value) {
        varying.push_back(label.name);
        break;
      }
    }
  }
  return varying;
}

// The name of one series of a profile's family: its display name, the split label's value, and
// the labels that tell the family's series apart (a probe's target).
std::string DisplayName(const FamilySpec& spec, const ClientMetric& metric,
                        const std::vector<std::string>& varying) {
  std::string name(spec.display);
  if (!spec.split_label.empty()) {
    if (const std::string* value = LabelValue(metric, spec.split_label)) name += " " + *value;
  }
  std::string others;
  for (const std::string& label : varying) {
    const std::string* value = LabelValue(metric, label);
    others += (others.empty() ? "" : ",") + label + "=" + (value ? *value : "");
  }
  if (!others.empty()) name += " {" + others + "}";
  return name;
}

void SampleProfile(const StatusProfile& profile, const std::vector<MetricFamily>& families,
                   SourceSample& sample) {
  sample.kind = profile.kind;
  if (const MetricFamily* up = FindFamily(families, profile.up_family);
      up != nullptr && !up->metric.empty()) {
    double lowest = 1;
    for (const auto& metric : up->metric) lowest = std::min(lowest, ValueOf(up->type, metric));
    sample.source_up = lowest;
  }
  const auto add = [&families](std::span<const FamilySpec> specs, NamedValues& into) {
    for (const FamilySpec& spec : specs) {
      const MetricFamily* family = FindFamily(families, spec.family);
      if (family == nullptr) continue;
      const std::vector<std::string> varying = VaryingLabels(*family, spec.split_label);
      for (const auto& metric : family->metric) {
        AddNamed(into, DisplayName(spec, metric, varying), ValueOf(family->type, metric),
                 kMaxNamedValues);
      }
    }
  };
  add(profile.gauges, sample.gauges);
  add(profile.counters, sample.counters);
  if (!profile.reason_family.empty()) {
    if (const MetricFamily* reasons = FindFamily(families, profile.reason_family)) {
      for (const auto& metric : reasons->metric) {
        const std::string* reason = LabelValue(metric, "reason");
        if (reason != nullptr && ValueOf(reasons->type, metric) > 0) {
          sample.failure_reason = reason->substr(0, 256);
        }
      }
    }
  }
}

std::size_t Bytes(const std::string& text) {
  // Short strings live inside the object.
  return text.capacity() > 15 ? text.capacity() + 1 : 0;
}

std::size_t Bytes(const NamedValues& values) {
  std::size_t bytes = values.capacity() * sizeof(NamedValues::value_type);
  for (const auto& [name, value] : values) bytes += Bytes(name);
  return bytes;
}

}  // namespace

std::span<const StatusProfile> StatusProfiles() { return kProfiles; }

const StatusProfile* FindStatusProfile(std::string_view kind) {
  for (const StatusProfile& profile : kProfiles) {
    if (profile.kind == kind) return &profile;
  }
  return nullptr;
}

const FamilySpec* FindGaugeSpec(std::string_view kind, std::string_view gauge_name) {
  const StatusProfile* profile = FindStatusProfile(kind);
  if (profile == nullptr) return nullptr;
  for (const FamilySpec& spec : profile->gauges) {
    if (gauge_name == spec.display ||
        (gauge_name.starts_with(spec.display) && gauge_name.size() > spec.display.size() &&
         gauge_name[spec.display.size()] == ' ')) {
      return &spec;
    }
  }
  return nullptr;
}

StatusSnapshot StatusSampler::Sample(std::chrono::system_clock::time_point time,
                                     std::span<const CollectorOutput> outputs,
                                     const std::vector<prometheus::MetricFamily>& exporter_families,
                                     double scrapes_total) {
  StatusSnapshot snapshot;
  snapshot.time = time;
  std::map<std::string, std::map<std::string, double, std::less<>>, std::less<>> seen;
  for (const CollectorOutput& output : outputs) {
    snapshot.sources.push_back(SampleSource(output));
    AddNamed(snapshot.exporter.collect_seconds, output.name, output.duration_seconds,
             kMaxNamedValues);
  }
  // Forget the totals of sources that are gone (removed by a reload).
  std::erase_if(previous_, [&outputs](const auto& entry) {
    return std::none_of(outputs.begin(), outputs.end(), [&entry](const CollectorOutput& output) {
      return entry.first.starts_with(output.name + '\0');
    });
  });
  snapshot.exporter.scrapes_total = scrapes_total;
  if (const MetricFamily* rss = FindFamily(exporter_families, "process_resident_memory_bytes");
      rss != nullptr && !rss->metric.empty()) {
    snapshot.exporter.resident_memory_bytes = ValueOf(rss->type, rss->metric.front());
  }
  return snapshot;
}

SourceSample StatusSampler::SampleSource(const CollectorOutput& output) {
  SourceSample sample;
  sample.name = output.name;
  sample.type = output.type;
  sample.collected = output.collected;
  if (output.families == nullptr) return sample;
  const std::vector<MetricFamily>& families = *output.families;

  const SeriesFamily* compact_requests = FindSeries(output.series, "accesslog_http_requests_total");
  const MetricFamily* requests = FindFamily(families, "accesslog_http_requests_total");
  if (requests != nullptr || compact_requests != nullptr) {
    sample.kind = "access_log";
    sample.has_requests = true;
    std::map<std::string, double, std::less<>> by_status;
    std::map<std::string, double, std::less<>> by_path;
    std::map<std::string, double, std::less<>> by_client;
    // Before the first request there is no series to tell which labels the collector has.
    const bool no_series =
        requests != nullptr ? requests->metric.empty() : compact_requests->size() == 0;
    bool has_path = no_series;
    bool has_client = no_series;
    sample.status_label = no_series;
    // One series: its value, and its labels through `label_value(name)` (an optional string).
    const auto count = [&](double value, const auto& label_value) {
      sample.requests += value;
      if (const std::optional<std::string> status = label_value("status")) {
        sample.status_label = true;
        by_status[*status] += value;
      }
      if (const std::optional<std::string> path = label_value("path")) {
        has_path = true;
        by_path[*path] += value;
      }
      if (const std::optional<std::string> client = label_value("remote_addr")) {
        has_client = true;
        by_client[*client] += value;
      }
    };
    if (requests != nullptr) {
      for (const auto& metric : requests->metric) {
        count(ValueOf(requests->type, metric),
              [&metric](std::string_view name) -> std::optional<std::string> {
                const std::string* value = LabelValue(metric, name);
                if (value == nullptr) return std::nullopt;
                return *value;
              });
      }
    } else {
      for (std::size_t i = 0; i < compact_requests->size(); ++i) {
        const std::string_view labels = (*compact_requests->labels)[i];
        count(compact_requests->values[i],
              [labels](std::string_view name) { return LabelValueOf(labels, name); });
      }
    }
    sample.requests_by_status =
        Largest(NamedValues(by_status.begin(), by_status.end()), kMaxStatusValues);
    if (has_path) sample.new_requests_by_path = NewRequestsBy(output.name, "path", by_path);
    if (has_client) {
      sample.new_requests_by_client = NewRequestsBy(output.name, "remote_addr", by_client);
    }
  }
  if (const MetricFamily* bytes =
          FindFamily(families, "accesslog_http_response_size_bytes_total")) {
    sample.response_bytes = Sum(*bytes);
  } else if (const SeriesFamily* compact_bytes =
                 FindSeries(output.series, "accesslog_http_response_size_bytes_total")) {
    double sum = 0;
    for (const double value : compact_bytes->values) sum += value;
    sample.response_bytes = sum;
  }
  if (const MetricFamily* duration =
          FindFamily(families, "accesslog_http_request_duration_seconds");
      duration != nullptr && duration->type == MetricType::Histogram) {
    HistogramSample histogram;
    for (const auto& metric : duration->metric) {
      const auto& buckets = metric.histogram.bucket;
      if (histogram.upper_bounds.empty()) {
        for (const auto& bucket : buckets) histogram.upper_bounds.push_back(bucket.upper_bound);
        histogram.cumulative_counts.assign(buckets.size(), 0);
      }
      // Series of one collector share their buckets; anything else cannot be summed.
      if (buckets.size() != histogram.upper_bounds.size()) continue;
      for (std::size_t i = 0; i < buckets.size(); ++i) {
        histogram.cumulative_counts[i] += static_cast<double>(buckets[i].cumulative_count);
      }
    }
    if (!histogram.upper_bounds.empty()) sample.duration = std::move(histogram);
  } else if (const SeriesFamily* compact_duration =
                 FindSeries(output.series, "accesslog_http_request_duration_seconds");
             compact_duration != nullptr && compact_duration->type == MetricType::Histogram &&
             !compact_duration->bounds.empty() && compact_duration->size() > 0) {
    // A compact family's series share its bounds.
    HistogramSample histogram;
    histogram.upper_bounds = compact_duration->bounds;
    histogram.cumulative_counts.assign(compact_duration->bounds.size(), 0);
    for (std::size_t i = 0; i < compact_duration->size(); ++i) {
      const std::uint64_t* counts = compact_duration->SeriesCounts(i);
      for (std::size_t b = 0; b < compact_duration->bounds.size(); ++b) {
        histogram.cumulative_counts[b] += static_cast<double>(counts[b]);
      }
    }
    sample.duration = std::move(histogram);
  }
  if (const MetricFamily* lag = FindFamily(families, "sidecar_exporter_log_lag_bytes")) {
    for (const auto& metric : lag->metric) {
      const std::string* file = LabelValue(metric, "file");
      AddNamed(sample.lag_bytes_by_file, file ? file->substr(0, 256) : "",
               ValueOf(lag->type, metric), kMaxNamedValues);
    }
  }
  if (const MetricFamily* lines = FindFamily(families, "sidecar_exporter_log_lines_read_total")) {
    sample.lines_read = Sum(*lines);
  }
  if (const MetricFamily* errors =
          FindFamily(families, "sidecar_exporter_log_parse_errors_total")) {
    sample.parse_errors = Sum(*errors);
  }
  for (const StatusProfile& profile : kProfiles) {
    if (FindFamily(families, profile.up_family) != nullptr) {
      SampleProfile(profile, families, sample);
      break;
    }
  }
  // Any other collector that tails logs through the shared tailer (its sidecar_exporter_log_*
  // families) shows its pipeline: lines read, unparsed lines, lag.
  if (sample.kind.empty() && FindFamily(families, "sidecar_exporter_log_lines_read_total")) {
    sample.kind = "log";
  }
  return sample;
}

NamedValues StatusSampler::NewRequestsBy(const std::string& source, std::string_view label,
                                         const std::map<std::string, double, std::less<>>& totals) {
  auto& previous = previous_[source + '\0' + std::string(label)];
  NamedValues fresh;
  for (const auto& [value, total] : totals) {
    const auto before = previous.find(value);
    // A total below the previous one means the collector was rebuilt: it counts from 0 again.
    double delta = total;
    if (before != previous.end() && before->second <= total) delta = total - before->second;
    if (delta > 0) fresh.emplace_back(value, delta);
  }
  previous = totals;
  return Largest(std::move(fresh), kTopValuesPerSample);
}

StatusHistory::StatusHistory(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 2)) {}

void StatusHistory::Add(StatusSnapshot snapshot) {
  auto shared = std::make_shared<const StatusSnapshot>(std::move(snapshot));
  const std::size_t bytes = sidecar::ApproximateBytes(*shared);
  std::lock_guard lock(mutex_);
  ring_.push_back(std::move(shared));
  bytes_ += bytes;
  while (ring_.size() > capacity_) {
    bytes_ -= sidecar::ApproximateBytes(*ring_.front());
    ring_.pop_front();
  }
}

std::vector<std::shared_ptr<const StatusSnapshot>> StatusHistory::Snapshots() const {
  std::lock_guard lock(mutex_);
  return {ring_.begin(), ring_.end()};
}

std::size_t StatusHistory::ApproximateBytes() const {
  std::lock_guard lock(mutex_);
  return bytes_ + ring_.size() * sizeof(std::shared_ptr<const StatusSnapshot>);
}

std::size_t ApproximateBytes(const StatusSnapshot& snapshot) {
  // make_shared: control block and object in one allocation.
  std::size_t bytes = sizeof(StatusSnapshot) + 16;
  bytes += snapshot.sources.capacity() * sizeof(SourceSample);
  for (const SourceSample& source : snapshot.sources) {
    bytes += Bytes(source.name) + Bytes(source.type) + Bytes(source.kind) +
             Bytes(source.failure_reason) + Bytes(source.requests_by_status) +
             Bytes(source.lag_bytes_by_file) + Bytes(source.gauges) + Bytes(source.counters);
    if (source.duration) {
      bytes += (source.duration->upper_bounds.capacity() +
                source.duration->cumulative_counts.capacity()) *
               sizeof(double);
    }
    if (source.new_requests_by_path) bytes += Bytes(*source.new_requests_by_path);
    if (source.new_requests_by_client) bytes += Bytes(*source.new_requests_by_client);
  }
  bytes += Bytes(snapshot.exporter.collect_seconds);
  return bytes;
}

}  // namespace sidecar
