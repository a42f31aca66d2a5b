#include "collectors/http/php_fpm_collector.h"

#include <array>
#include <memory>
#include <utility>

#include "collectors/core/metric_family_builder.h"
#include "collectors/http/fastcgi_fetcher.h"
#include "collectors/http/http_fetcher.h"
#include "simdjson.h"

namespace sidecar {
namespace {

using prometheus::MetricType;

// The states hipages/php-fpm_exporter always exports per child (PHP before 7.4 spelt the fifth
// "informations"); a child in another state gets that state as a sixth or seventh series.
constexpr std::array<std::string_view, 6> kProcessStates = {
    "Idle", "Running", "Finishing", "Reading headers", "Getting request informations", "Ending"};

// Reads a number field of `object` into `value`; false with `error` set when absent or not a
// number.
bool ReadNumber(simdjson::dom::object object, std::string_view key, double& value,
                std::string& error, std::string_view where) {
  simdjson::dom::element element;
  if (object[key].get(element) != simdjson::SUCCESS) {
    error = "php-fpm status: " + std::string(where) + "no \"" + std::string(key) + "\" field";
    return false;
  }
  std::int64_t signed_value = 0;
  std::uint64_t unsigned_value = 0;
  if (element.get_int64().get(signed_value) == simdjson::SUCCESS) {
    value = static_cast<double>(signed_value);
  } else if (element.get_uint64().get(unsigned_value) == simdjson::SUCCESS) {
    // FPM can print a garbage "request duration" past 2^63 (https://bugs.php.net/62382);
    // hipages/php-fpm_exporter reads such values as 0, and so do we.
    value = 0;
  } else if (element.get_double().get(value) != simdjson::SUCCESS) {
    error =
        "php-fpm status: " + std::string(where) + "\"" + std::string(key) + "\" is not a number";
    return false;
  }
  return true;
}

std::string ScrapeUri(const PhpFpmOptions& options) {
  if (!options.url.empty()) return options.url;
  // hipages/php-fpm_exporter's --phpfpm.scrape-uri spelling.
  if (options.address.starts_with("unix://")) return options.address + ";" + options.status_path;
  return options.address + options.status_path;
}

std::unique_ptr<Fetcher> MakeFetcher(const PhpFpmOptions& options) {
  if (!options.url.empty()) {
    const std::string separator = options.url.find('?') == std::string::npos ? "?" : "&";
    return std::make_unique<HttpFetcher>(options.url + separator + "json&full",
                                         options.unix_socket);
  }
  std::string error;
  std::optional<FastCgiAddress> address = FastCgiAddress::Parse(options.address, error);
  // The decoder has validated the address.
  return std::make_unique<FastCgiFetcher>(address.value_or(FastCgiAddress{}), options.address,
                                          options.status_path, "json&full");
}

}  // namespace

std::optional<PhpFpmPool> ParsePhpFpmStatus(std::string_view json, std::string& error) {
  simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (const auto code = parser.parse(simdjson::padded_string(json)).get(document);
      code != simdjson::SUCCESS) {
    error = std::string("php-fpm status: not JSON (") + simdjson::error_message(code) +
            "); does status_path name the pool's pm.status_path?";
    return std::nullopt;
  }
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    error = "php-fpm status: not a JSON object";
    return std::nullopt;
  }
  PhpFpmPool pool;
  std::string_view name;
  if (object["pool"].get_string().get(name) != simdjson::SUCCESS) {
    error = "php-fpm status: no \"pool\" string; not PHP-FPM's status page";
    return std::nullopt;
  }
  pool.name = std::string(name);
  const std::pair<std::string_view, double*> fields[] = {
      {"start since", &pool.start_since},
      {"accepted conn", &pool.accepted_connections},
      {"listen queue", &pool.listen_queue},
      {"max listen queue", &pool.max_listen_queue},
      {"listen queue len", &pool.listen_queue_length},
      {"idle processes", &pool.idle_processes},
      {"active processes", &pool.active_processes},
      {"total processes", &pool.total_processes},
      {"max active processes", &pool.max_active_processes},
      {"max children reached", &pool.max_children_reached},
      {"slow requests", &pool.slow_requests},
  };
  for (const auto& [key, value] : fields) {
    if (!ReadNumber(object, key, *value, error, "")) return std::nullopt;
  }
  simdjson::dom::array processes;
  if (object["processes"].get_array().get(processes) != simdjson::SUCCESS) {
    return pool;  // `?json` without `full`
  }
  for (simdjson::dom::element entry : processes) {
    const std::string where = "processes[" + std::to_string(pool.processes.size()) + "]: ";
    simdjson::dom::object child;
    std::string_view state;
    if (entry.get_object().get(child) != simdjson::SUCCESS ||
        child["state"].get_string().get(state) != simdjson::SUCCESS) {
      error = "php-fpm status: " + where + "not an object with a \"state\" string";
      return std::nullopt;
    }
    PhpFpmProcess& process = pool.processes.emplace_back();
    process.state = std::string(state);
    if (!ReadNumber(child, "requests", process.requests, error, where) ||
        !ReadNumber(child, "request duration", process.request_duration, error, where) ||
        !ReadNumber(child, "last request cpu", process.last_request_cpu, error, where) ||
        !ReadNumber(child, "last request memory", process.last_request_memory, error, where)) {
      return std::nullopt;
    }
  }
  return pool;
}

void AppendPhpFpmFamilies(const PhpFpmPool& pool, const std::string& scrape_uri,
                          const LabelPairs& labels,
                          std::vector<prometheus::MetricFamily>& families) {
  LabelPairs pool_labels = labels;
  pool_labels.emplace_back("pool", pool.name);
  pool_labels.emplace_back("scrape_uri", scrape_uri);
  const auto add = [&](std::string name, std::string help, MetricType type, double value) {
    families.push_back(MetricFamilyBuilder(std::move(name), std::move(help), type, pool_labels)
                           .Add(value)
                           .Build());
  };
  add("phpfpm_start_since", "Seconds since FPM started, from its status page.", MetricType::Counter,
      pool.start_since);
  add("phpfpm_accepted_connections", "Requests the pool accepted, from FPM's status page.",
      MetricType::Counter, pool.accepted_connections);
  add("phpfpm_listen_queue",
      "Requests waiting in the listen queue for a free child, from FPM's status page.",
      MetricType::Gauge, pool.listen_queue);
  add("phpfpm_max_listen_queue",
      "Most requests ever waiting in the listen queue since FPM started, from its status page.",
      MetricType::Counter, pool.max_listen_queue);
  add("phpfpm_listen_queue_length", "Size of the listen queue (backlog), from FPM's status page.",
      MetricType::Gauge, pool.listen_queue_length);
  add("phpfpm_idle_processes", "Idle children, from FPM's status page.", MetricType::Gauge,
      pool.idle_processes);
  add("phpfpm_active_processes", "Children serving a request, from FPM's status page.",
      MetricType::Gauge, pool.active_processes);
  add("phpfpm_total_processes", "Idle plus active children, from FPM's status page.",
      MetricType::Gauge, pool.total_processes);
  add("phpfpm_max_active_processes",
      "Most children ever active at once since FPM started, from its status page.",
      MetricType::Counter, pool.max_active_processes);
  add("phpfpm_max_children_reached",
      "Times the pool hit pm.max_children when it wanted another child (dynamic and ondemand), "
      "from FPM's status page.",
      MetricType::Counter, pool.max_children_reached);
  add("phpfpm_slow_requests",
      "Requests that took longer than request_slowlog_timeout, from FPM's status page.",
      MetricType::Counter, pool.slow_requests);
  if (pool.processes.empty()) return;

  MetricFamilyBuilder state("phpfpm_process_state",
                            "1 for the state a child is in, from FPM's status page.",
                            MetricType::Gauge, labels);
  MetricFamilyBuilder requests("phpfpm_process_requests",
                               "Requests a child served, from FPM's status page.",
                               MetricType::Counter, labels);
  MetricFamilyBuilder memory("phpfpm_process_last_request_memory",
                             "Peak memory in bytes of a child's last request, from FPM's status "
                             "page.",
                             MetricType::Gauge, labels);
  MetricFamilyBuilder cpu("phpfpm_process_last_request_cpu",
                          "Percent CPU a child's last request used, from FPM's status page.",
                          MetricType::Gauge, labels);
  MetricFamilyBuilder duration("phpfpm_process_request_duration",
                               "Duration in microseconds of a child's current or last request, "
                               "from FPM's status page.",
                               MetricType::Gauge, labels);
  for (std::size_t i = 0; i < pool.processes.size(); ++i) {
    const PhpFpmProcess& process = pool.processes[i];
    const std::string child = std::to_string(i);
    bool known_state = false;
    for (const std::string_view name : kProcessStates) {
      known_state = known_state || name == process.state;
      state.Add(name == process.state ? 1 : 0, {{"pool", pool.name},
                                                {"child", child},
                                                {"state", std::string(name)},
                                                {"scrape_uri", scrape_uri}});
    }
    if (!known_state) {
      state.Add(1, {{"pool", pool.name},
                    {"child", child},
                    {"state", process.state},
                    {"scrape_uri", scrape_uri}});
    }
    const MetricFamilyBuilder::Labels child_labels = {
        {"pool", pool.name}, {"child", child}, {"scrape_uri", scrape_uri}};
    requests.Add(process.requests, child_labels);
    memory.Add(process.last_request_memory, child_labels);
    cpu.Add(process.last_request_cpu, child_labels);
    duration.Add(process.request_duration, child_labels);
  }
  for (MetricFamilyBuilder* builder : {&state, &requests, &memory, &cpu, &duration}) {
    families.push_back(builder->Build());
  }
}

PhpFpmCollector::PhpFpmCollector(const PhpFpmOptions& options)
    : StatusPageCollector(MakeFetcher(options),
                          {.up_name = "phpfpm_up",
                           .up_help = "Whether the last fetch and parse of PHP-FPM's status page "
                                      "succeeded (1) or not (0).",
                           .timeout = options.timeout,
                           .max_body_bytes = options.max_body_bytes,
                           .labels =
                               [&options] {
                                 LabelPairs labels = options.labels;
                                 labels.emplace_back("scrape_uri", ScrapeUri(options));
                                 return labels;
                               }()}),
      scrape_uri_(ScrapeUri(options)),
      user_labels_(options.labels) {}

std::optional<std::string> PhpFpmCollector::Export(
    const FetchedDocument& document, std::vector<prometheus::MetricFamily>& families) {
  std::string error;
  const std::optional<PhpFpmPool> pool = ParsePhpFpmStatus(document.body, error);
  if (!pool) return error;
  // scrape_uri goes after pool and child here, as the exporter places it.
  AppendPhpFpmFamilies(*pool, scrape_uri_, user_labels_, families);
  return std::nullopt;
}

CollectorFactory DecodePhpFpm(FieldDecoder& fields, const CollectorDefaults& defaults) {
  PhpFpmOptions options;
  const bool has_address = fields.Has("address");
  const bool has_url = fields.Has("url");
  if (has_address && has_url) {
    fields.Error("url",
                 "give either address (FastCGI, straight to the pool) or url (HTTP "
                 "through the web server), not both");
  }
  if (has_url) {
    options.url = fields.Url("url", "");
    options.unix_socket = fields.OptionalString("unix_socket");
  } else {
    options.address = fields.String("address", "tcp://127.0.0.1:9000");
    std::string error;
    if (!FastCgiAddress::Parse(options.address, error)) {
      fields.Error("address", "invalid address \"" + options.address + "\"; " + error);
    }
    options.status_path = fields.String("status_path", "/status");
    if (!options.status_path.starts_with("/")) {
      fields.Error("status_path", "invalid status_path \"" + options.status_path +
                                      "\"; want the pool's pm.status_path, such as /status");
    }
  }
  options.timeout = fields.Duration("timeout", defaults.timeout);
  options.max_body_bytes = fields.Unsigned("max_response_bytes", 1 << 20, 256, 64 << 20);
  options.labels = fields.StringMap("labels", /*label_names=*/true);
  for (const auto& [name, value] : options.labels) {
    if (name == "pool" || name == "child" || name == "state" || name == "scrape_uri") {
      fields.Error("labels", "label \"" + name + "\" is set by the collector; choose another name");
    }
  }
  return [options] { return std::make_unique<PhpFpmCollector>(options); };
}

}  // namespace sidecar
