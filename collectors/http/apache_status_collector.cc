#include "collectors/http/apache_status_collector.h"

#include <array>
#include <charconv>
#include <memory>
#include <utility>

#include "collectors/core/metric_family_builder.h"
#include "collectors/http/http_fetcher.h"

namespace sidecar {
namespace {

using prometheus::MetricType;

// The numeric keys of the ?auto page that become series; other keys are skipped.
constexpr std::array<std::string_view, 22> kNumericKeys = {
    "ParentServerConfigGeneration",
    "ParentServerMPMGeneration",
    "Load1",
    "Load5",
    "Load15",
    "Total Accesses",
    "Total kBytes",
    "Total Duration",
    "CPUUser",
    "CPUSystem",
    "CPUChildrenUser",
    "CPUChildrenSystem",
    "CPULoad",
    "Uptime",
    "BusyWorkers",
    "IdleWorkers",
    "Processes",
    "Stopping",
    "ConnsTotal",
    "ConnsAsyncWriting",
    "ConnsAsyncKeepAlive",
    "ConnsAsyncClosing",
};

// Scoreboard letters and the state label the Apache exporter gives them; every one is exported,
// 0 when absent, so that a dashboard's series do not come and go.
constexpr std::array<std::pair<char, std::string_view>, 11> kScoreboardStates = {{
    {'_', "idle"},
    {'S', "startup"},
    {'R', "read"},
    {'W', "reply"},
    {'K', "keepalive"},
    {'D', "dns"},
    {'C', "closing"},
    {'L', "logging"},
    {'G', "graceful_stop"},
    {'I', "idle_cleanup"},
    {'.', "open_slot"},
}};

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::optional<double> ParseNumber(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> ParseKilobytes(std::string_view text) {
  // mod_proxy_balancer prints transfer sizes with a unit letter: "12K".
  while (!text.empty() && (text.back() == 'K' || text.back() == 'k')) text.remove_suffix(1);
  return ParseNumber(text);
}

// Reads a "ProxyBalancer[i]..." line into `workers`. The page lists a balancer's name, then for
// each of its workers the name followed by that worker's fields, as the Apache exporter expects.
bool ReadBalancerLine(std::string_view key, std::string_view value, std::string& balancer,
                      std::vector<ApacheBalancerWorker>& workers) {
  const bool of_worker = key.find("]Worker[") != std::string_view::npos;
  if (key.ends_with("]Name")) {
    if (!of_worker) {
      balancer = std::string(value);
    } else {
      ApacheBalancerWorker& worker = workers.emplace_back();
      worker.balancer = balancer;
      worker.worker = std::string(value);
    }
    return true;
  }
  if (!of_worker || workers.empty()) return true;  // balancer-level fields are not exported
  ApacheBalancerWorker& worker = workers.back();
  if (key.ends_with("]Status")) {
    worker.status = std::string(value);
  } else if (key.ends_with("]Elected")) {
    worker.elected = ParseNumber(value);
    return worker.elected.has_value();
  } else if (key.ends_with("]Busy")) {
    worker.busy = ParseNumber(value);
    return worker.busy.has_value();
  } else if (key.ends_with("]Sent")) {
    worker.sent_kilobytes = ParseKilobytes(value);
    return worker.sent_kilobytes.has_value();
  } else if (key.ends_with("]Rcvd")) {
    worker.received_kilobytes = ParseKilobytes(value);
    return worker.received_kilobytes.has_value();
  }
  return true;
}

// A label value made of one scoreboard letter the table does not know, kept readable.
std::string UnknownLetterLabel(char letter) {
  if (letter > ' ' && letter < 0x7f) return std::string(1, letter);
  return "unknown";
}

// Adds one family whose series are keys of the page under one label (state="busy" from
// BusyWorkers...), leaving out keys the page does not print and the family when it prints none.
void AddLabelled(std::vector<prometheus::MetricFamily>& families, const LabelPairs& labels,
                 const ApacheStatus& status, std::string name, std::string help,
                 const std::string& label,
                 std::initializer_list<std::pair<std::string_view, std::string>> keys) {
  MetricFamilyBuilder builder(std::move(name), std::move(help), MetricType::Gauge, labels);
  for (const auto& [key, label_value] : keys) {
    if (const std::optional<double> value = status.Number(key)) {
      builder.Add(*value, {{label, label_value}});
    }
  }
  if (!builder.empty()) families.push_back(builder.Build());
}

void AddBalancerFamilies(std::vector<prometheus::MetricFamily>& families, const LabelPairs& labels,
                         const std::vector<ApacheBalancerWorker>& workers) {
  MetricFamilyBuilder status_family(
      "apache_proxy_balancer_status",
      "Status of a mod_proxy_balancer worker (1 for the status in the label), from mod_status.",
      MetricType::Gauge, labels);
  MetricFamilyBuilder elected("apache_proxy_balancer_accesses_total",
                              "Requests sent to a mod_proxy_balancer worker, from mod_status.",
                              MetricType::Counter, labels);
  MetricFamilyBuilder busy("apache_proxy_balancer_busy",
                           "Requests in flight to a mod_proxy_balancer worker, from mod_status.",
                           MetricType::Gauge, labels);
  MetricFamilyBuilder sent("apache_proxy_balancer_request_kbytes_total",
                           "Kilobytes sent to a mod_proxy_balancer worker, from mod_status.",
                           MetricType::Counter, labels);
  MetricFamilyBuilder received(
      "apache_proxy_balancer_response_kbytes_total",
      "Kilobytes received from a mod_proxy_balancer worker, from mod_status.", MetricType::Counter,
      labels);
  for (const ApacheBalancerWorker& worker : workers) {
    const MetricFamilyBuilder::Labels names = {{"balancer", worker.balancer},
                                               {"worker", worker.worker}};
    if (worker.status) {
      status_family.Add(
          1,
          {{"balancer", worker.balancer}, {"worker", worker.worker}, {"status", *worker.status}});
    }
    if (worker.elected) elected.Add(*worker.elected, names);
    if (worker.busy) busy.Add(*worker.busy, names);
    if (worker.sent_kilobytes) sent.Add(*worker.sent_kilobytes, names);
    if (worker.received_kilobytes) received.Add(*worker.received_kilobytes, names);
  }
  for (MetricFamilyBuilder* builder : {&status_family, &elected, &busy, &sent, &received}) {
    if (!builder->empty()) families.push_back(builder->Build());
  }
}

}  // namespace

std::optional<double> ApacheStatus::Number(std::string_view key) const {
  const auto it = numbers.find(key);
  if (it == numbers.end()) return std::nullopt;
  return it->second;
}

std::optional<ApacheStatus> ParseApacheStatus(std::string_view body, std::string& error) {
  if (Trim(body).starts_with("<")) {
    error = "mod_status: an HTML page, not the machine-readable one; add ?auto to the url";
    return std::nullopt;
  }
  ApacheStatus status;
  std::string balancer;
  int line_number = 0;
  while (!body.empty()) {
    ++line_number;
    const size_t newline = body.find('\n');
    const std::string_view line = body.substr(0, newline);
    body.remove_prefix(newline == std::string_view::npos ? body.size() : newline + 1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // the host name line, blank lines
    const std::string_view key = Trim(line.substr(0, colon));
    const std::string_view value = Trim(line.substr(colon + 1));
    const auto bad_value = [&] {
      error = "mod_status: line " + std::to_string(line_number) + ": " + std::string(key) + ": \"" +
              std::string(value.substr(0, 40)) + "\" is not a number";
    };
    if (key == "ServerVersion") {
      status.server_version = std::string(value);
    } else if (key == "ServerMPM") {
      status.server_mpm = std::string(value);
    } else if (key == "Scoreboard") {
      status.scoreboard = std::string(value);
    } else if (key.starts_with("ProxyBalancer[")) {
      if (!ReadBalancerLine(key, value, balancer, status.balancer_workers)) {
        bad_value();
        return std::nullopt;
      }
    } else if (std::find(kNumericKeys.begin(), kNumericKeys.end(), key) != kNumericKeys.end()) {
      const std::optional<double> number = ParseNumber(value);
      if (!number) {
        bad_value();
        return std::nullopt;
      }
      status.numbers.insert_or_assign(std::string(key), *number);
    }
  }
  // Every Apache since 2.0 prints these, with or without ExtendedStatus.
  if (!status.scoreboard && !status.Number("BusyWorkers")) {
    error = "mod_status: no Scoreboard or BusyWorkers line; not a ?auto page of mod_status";
    return std::nullopt;
  }
  return status;
}

std::optional<double> ApacheVersionNumber(std::string_view server_version) {
  const size_t slash = server_version.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view version = server_version.substr(slash + 1);
  version = version.substr(0, version.find(' '));
  std::array<std::string_view, 3> parts;
  for (std::string_view& part : parts) {
    const size_t dot = version.find('.');
    part = version.substr(0, dot);
    version.remove_prefix(dot == std::string_view::npos ? version.size() : dot + 1);
    if (part.empty() || part.size() > 3 ||
        part.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
  }
  // "2.4.62" reads as "2." + minor padded to 2 digits + patch padded to 3, as the Apache exporter
  // computes it, so that both give the same number.
  std::string text(parts[0]);
  text += '.';
  text.append(2 - std::min<size_t>(2, parts[1].size()), '0').append(parts[1]);
  text.append(3 - parts[2].size(), '0').append(parts[2]);
  return ParseNumber(text);
}

ApacheStatusCollector::ApacheStatusCollector(const StatusPageOptions& options)
    : StatusPageCollector(
          std::make_unique<HttpFetcher>(options.url, options.unix_socket),
          {.up_name = "apache_up",
           .up_help = "Whether the last fetch and parse of Apache's mod_status page succeeded (1) "
                      "or not (0).",
           .timeout = options.timeout,
           .max_body_bytes = options.max_body_bytes,
           .labels = options.labels}) {}

std::optional<std::string> ApacheStatusCollector::Export(
    const FetchedDocument& document, std::vector<prometheus::MetricFamily>& families) {
  std::string error;
  const std::optional<ApacheStatus> status = ParseApacheStatus(document.body, error);
  if (!status) return error;
  AppendApacheFamilies(*status, labels(), families);
  return std::nullopt;
}

void AppendApacheFamilies(const ApacheStatus& status, const LabelPairs& labels,
                          std::vector<prometheus::MetricFamily>& families) {
  const auto add = [&](std::string_view key, std::string name, std::string help, MetricType type) {
    if (const std::optional<double> value = status.Number(key)) {
      families.push_back(
          MetricFamilyBuilder(std::move(name), std::move(help), type, labels).Add(*value).Build());
    }
  };

  if (status.server_version || status.server_mpm) {
    families.push_back(MetricFamilyBuilder("apache_info",
                                           "Apache's version and MPM, from mod_status; always 1.",
                                           MetricType::Gauge, labels)
                           .Add(1, {{"version", status.server_version.value_or("UNKNOWN")},
                                    {"mpm", status.server_mpm.value_or("UNKNOWN")}})
                           .Build());
  }
  if (status.server_version) {
    if (const std::optional<double> number = ApacheVersionNumber(*status.server_version)) {
      families.push_back(MetricFamilyBuilder("apache_version",
                                             "Apache's version as major.mmppp (2.4.62 is 2.04062), "
                                             "from mod_status ServerVersion.",
                                             MetricType::Gauge, labels)
                             .Add(*number)
                             .Build());
    }
  }
  AddLabelled(families, labels, status, "apache_generation",
              "Restart generation of Apache's configuration and MPM, from mod_status.", "type",
              {{"ParentServerConfigGeneration", "config"}, {"ParentServerMPMGeneration", "mpm"}});
  AddLabelled(families, labels, status, "apache_load",
              "System load average over the interval, from mod_status.", "interval",
              {{"Load1", "1min"}, {"Load5", "5min"}, {"Load15", "15min"}});
  add("Total Accesses", "apache_accesses_total", "Requests served, from mod_status.",
      MetricType::Counter);
  add("Total kBytes", "apache_sent_kilobytes_total", "Kilobytes sent, from mod_status.",
      MetricType::Counter);
  add("Total Duration", "apache_duration_ms_total",
      "Time spent serving requests in milliseconds, from mod_status.", MetricType::Counter);

  const std::optional<double> cpu_user = status.Number("CPUUser");
  const std::optional<double> cpu_children_user = status.Number("CPUChildrenUser");
  const std::optional<double> cpu_system = status.Number("CPUSystem");
  const std::optional<double> cpu_children_system = status.Number("CPUChildrenSystem");
  if (cpu_user || cpu_children_user || cpu_system || cpu_children_system) {
    // Seconds of the parent plus its children, in milliseconds, as the Apache exporter reports.
    families.push_back(
        MetricFamilyBuilder("apache_cpu_time_ms_total",
                            "CPU time of Apache's processes in milliseconds, from mod_status.",
                            MetricType::Counter, labels)
            .Add(1000 * (cpu_user.value_or(0) + cpu_children_user.value_or(0)), {{"type", "user"}})
            .Add(1000 * (cpu_system.value_or(0) + cpu_children_system.value_or(0)),
                 {{"type", "system"}})
            .Build());
  }
  add("CPULoad", "apache_cpuload",
      "Percentage of one CPU Apache's processes used since it started, from mod_status.",
      MetricType::Gauge);
  add("Uptime", "apache_uptime_seconds_total", "Seconds since Apache started, from mod_status.",
      MetricType::Counter);
  AddLabelled(families, labels, status, "apache_workers",
              "Workers serving a request (busy) or waiting for one (idle), from mod_status.",
              "state", {{"BusyWorkers", "busy"}, {"IdleWorkers", "idle"}});
  AddLabelled(families, labels, status, "apache_processes",
              "Apache child processes: all of them, and those stopping, from mod_status.", "state",
              {{"Processes", "all"}, {"Stopping", "stopping"}});
  AddLabelled(families, labels, status, "apache_connections",
              "Connections of the event MPM: all, and those in an asynchronous state, from "
              "mod_status.",
              "state",
              {{"ConnsTotal", "total"},
               {"ConnsAsyncWriting", "writing"},
               {"ConnsAsyncKeepAlive", "keepalive"},
               {"ConnsAsyncClosing", "closing"}});

  if (status.scoreboard) {
    std::array<double, kScoreboardStates.size()> known{};
    std::map<std::string, double> unknown;
    for (const char letter : *status.scoreboard) {
      const auto it = std::find_if(kScoreboardStates.begin(), kScoreboardStates.end(),
                                   [letter](const auto& state) { return state.first == letter; });
      if (it != kScoreboardStates.end()) {
        ++known[static_cast<size_t>(it - kScoreboardStates.begin())];
      } else {
        ++unknown[UnknownLetterLabel(letter)];
      }
    }
    MetricFamilyBuilder scoreboard("apache_scoreboard",
                                   "Scoreboard slots in each state, from mod_status.",
                                   MetricType::Gauge, labels);
    for (size_t i = 0; i < kScoreboardStates.size(); ++i) {
      scoreboard.Add(known[i], {{"state", std::string(kScoreboardStates[i].second)}});
    }
    for (const auto& [label, count] : unknown) scoreboard.Add(count, {{"state", label}});
    families.push_back(scoreboard.Build());
  }
  AddBalancerFamilies(families, labels, status.balancer_workers);
}

CollectorFactory DecodeApacheStatus(FieldDecoder& fields, const CollectorDefaults& defaults) {
  const StatusPageOptions options = DecodeStatusPageOptions(
      fields, defaults, "http://127.0.0.1:8080/server-status?auto", 256 * 1024);
  return [options] { return std::make_unique<ApacheStatusCollector>(options); };
}

}  // namespace sidecar
