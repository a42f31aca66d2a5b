#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/collector_type.h"
#include "collectors/http/status_page_collector.h"

namespace sidecar {

// One worker of a mod_proxy_balancer balancer, as the ?auto page lists it.
struct ApacheBalancerWorker {
  std::string balancer;
  std::string worker;
  std::optional<std::string> status;  // "Init Ok"
  std::optional<double> elected;      // requests sent to it
  std::optional<double> busy;         // requests in flight
  std::optional<double> sent_kilobytes;
  std::optional<double> received_kilobytes;
};

// What the machine-readable page of mod_status (`/server-status?auto`) says. Apache 2.2 and 2.4
// print different subsets (2.2 and `ExtendedStatus Off` only the worker counts and the
// scoreboard; the event MPM adds connection counts), so every field is optional.
struct ApacheStatus {
  std::optional<std::string> server_version;  // "Apache/2.4.62 (Debian)"
  std::optional<std::string> server_mpm;      // "event"
  // Every "Key: number" line whose key is exported, by key ("Total Accesses", "BusyWorkers").
  std::map<std::string, double, std::less<>> numbers;
  std::optional<std::string> scoreboard;
  std::vector<ApacheBalancerWorker> balancer_workers;

  std::optional<double> Number(std::string_view key) const;
};

// Parses a `?auto` page. Lines with keys that are not exported (CurrentTime, ReqPerSec, the TLS
// session cache...) are skipped; an exported key with a value that is not a number, or a page
// that has none of the keys every Apache prints (an HTML page, another server), is an error.
std::optional<ApacheStatus> ParseApacheStatus(std::string_view body, std::string& error);

// The version number the Apache exporter derives from ServerVersion: "Apache/2.4.62" gives
// 2.04062. Nullopt when the version has no "major.minor.patch" after the slash
// (`ServerTokens Prod` prints just "Apache").
std::optional<double> ApacheVersionNumber(std::string_view server_version);

// Appends the families of `status`, every series with `labels` first.
void AppendApacheFamilies(const ApacheStatus& status, const LabelPairs& labels,
                          std::vector<prometheus::MetricFamily>& families);

// Fetches mod_status at scrape time and exports it under the names and labels of the Apache
// exporter Debian packages (prometheus-apache-exporter 0.12: apache_up, apache_accesses_total,
// apache_workers{state}, apache_scoreboard{state}...), so its dashboards and alerts work
// unchanged. Fields the page does not print are absent series, not zeros. When Apache is down,
// slow or answers something else, only `apache_up 0` is exported.
//
// Thread-safety: as StatusPageCollector.
class ApacheStatusCollector final : public StatusPageCollector {
 public:
  explicit ApacheStatusCollector(const StatusPageOptions& options);

 private:
  std::optional<std::string> Export(const FetchedDocument& document,
                                    std::vector<prometheus::MetricFamily>& families) override;
};

// Decodes the options of an `apache_status` collector (those of every status page).
CollectorFactory DecodeApacheStatus(FieldDecoder& fields, const CollectorDefaults& defaults);

}  // namespace sidecar
