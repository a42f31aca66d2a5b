#include "collectors/http/apache_status_collector.h"

#include <catch2/catch.hpp>

#include "exporter/config.h"
#include "exporter/metric_families.h"
#include "tests/support/peers.h"
#include "tests/support/temp_dir.h"

namespace sidecar {
namespace {

std::string Page(const std::string& name) {
  return testing::ReadFile(std::filesystem::path(SIDECAR_TEST_DATA_DIR) / "apache_status" / name);
}

// The exported series of a page, "name{labels}" -> value.
std::map<std::string, double> Series(const std::string& page, LabelPairs labels = {}) {
  std::string error;
  const std::optional<ApacheStatus> status = ParseApacheStatus(page, error);
  INFO(error);
  REQUIRE(status);
  std::vector<prometheus::MetricFamily> families;
  AppendApacheFamilies(*status, labels, families);
  return testing::ParseMetrics(SerializeText(families));
}

// Names of the families exported, without labels.
std::set<std::string> Names(const std::map<std::string, double>& series) {
  std::set<std::string> names;
  for (const auto& [key, value] : series) names.insert(key.substr(0, key.find('{')));
  return names;
}

TEST_CASE("Apache 2.4 event MPM with ExtendedStatus: every field of the page", "[apache]") {
  auto series = Series(Page("apache-2.4-event-balancer-ssl.txt"), {{"instance", "a"}});
  CHECK(series.at("apache_info{instance=\"a\",version=\"Apache/2.4.57 (Unix) OpenSSL/3.0.11\","
                  "mpm=\"event\"}") == 1);
  CHECK(series.at("apache_version{instance=\"a\"}") == 2.04057);
  CHECK(series.at("apache_generation{instance=\"a\",type=\"config\"}") == 3);
  CHECK(series.at("apache_generation{instance=\"a\",type=\"mpm\"}") == 2);
  CHECK(series.at("apache_load{instance=\"a\",interval=\"1min\"}") == 0.52);
  CHECK(series.at("apache_load{instance=\"a\",interval=\"15min\"}") == 0.31);
  CHECK(series.at("apache_accesses_total{instance=\"a\"}") == 123456);
  CHECK(series.at("apache_sent_kilobytes_total{instance=\"a\"}") == 987654);
  CHECK(series.at("apache_duration_ms_total{instance=\"a\"}") == 4567890);
  // Parent plus children, seconds to milliseconds.
  CHECK(series.at("apache_cpu_time_ms_total{instance=\"a\",type=\"user\"}") == 14000);
  CHECK(series.at("apache_cpu_time_ms_total{instance=\"a\",type=\"system\"}") == 4000);
  CHECK(series.at("apache_cpuload{instance=\"a\"}") == 0.0208912);
  CHECK(series.at("apache_uptime_seconds_total{instance=\"a\"}") == 86400);
  CHECK(series.at("apache_workers{instance=\"a\",state=\"busy\"}") == 2);
  CHECK(series.at("apache_workers{instance=\"a\",state=\"idle\"}") == 48);
  CHECK(series.at("apache_processes{instance=\"a\",state=\"all\"}") == 2);
  CHECK(series.at("apache_processes{instance=\"a\",state=\"stopping\"}") == 1);
  CHECK(series.at("apache_connections{instance=\"a\",state=\"total\"}") == 5);
  CHECK(series.at("apache_connections{instance=\"a\",state=\"writing\"}") == 1);
  CHECK(series.at("apache_connections{instance=\"a\",state=\"keepalive\"}") == 3);
  CHECK(series.at("apache_connections{instance=\"a\",state=\"closing\"}") == 0);
  // "W_R__K_GI_LDC" + 36 '_' + "..." + "Z"
  CHECK(series.at("apache_scoreboard{instance=\"a\",state=\"reply\"}") == 1);
  CHECK(series.at("apache_scoreboard{instance=\"a\",state=\"idle\"}") == 41);
  CHECK(series.at("apache_scoreboard{instance=\"a\",state=\"read\"}") == 1);
  CHECK(series.at("apache_scoreboard{instance=\"a\",state=\"keepalive\"}") == 1);
  CHECK(series.at("apache_scoreboard{instance=\"a\",state=\"graceful_stop\"}") == 1);
  CHECK(series.at("apache_scoreboard{instance=\"a\",state=\"idle_cleanup\"}") == 1);
  CHECK(series.at("apache_scoreboard{instance=\"a\",state=\"logging\"}") == 1);
  CHECK(series.at("apache_scoreboard{instance=\"a\",state=\"dns\"}") == 1);
  CHECK(series.at("apache_scoreboard{instance=\"a\",state=\"closing\"}") == 1);
  CHECK(series.at("apache_scoreboard{instance=\"a\",state=\"open_slot\"}") == 3);
  CHECK(series.at("apache_scoreboard{instance=\"a\",state=\"startup\"}") == 0);
  CHECK(series.at("apache_scoreboard{instance=\"a\",state=\"Z\"}") == 1);
  CHECK(series.at("apache_proxy_balancer_status{instance=\"a\",balancer=\"balancer://app\","
                  "worker=\"http://10.0.0.1:8080\",status=\"Init Ok\"}") == 1);
  CHECK(series.at("apache_proxy_balancer_status{instance=\"a\",balancer=\"balancer://app\","
                  "worker=\"http://10.0.0.2:8080\",status=\"Init Err\"}") == 1);
  CHECK(series.at("apache_proxy_balancer_accesses_total{instance=\"a\",balancer=\"balancer://app\","
                  "worker=\"http://10.0.0.1:8080\"}") == 5808);
  CHECK(series.at("apache_proxy_balancer_busy{instance=\"a\",balancer=\"balancer://app\","
                  "worker=\"http://10.0.0.1:8080\"}") == 2);
  CHECK(series.at("apache_proxy_balancer_request_kbytes_total{instance=\"a\",balancer=\"balancer://"
                  "app\",worker=\"http://10.0.0.1:8080\"}") == 1234);
  CHECK(
      series.at("apache_proxy_balancer_response_kbytes_total{instance=\"a\",balancer=\"balancer://"
                "app\",worker=\"http://10.0.0.1:8080\"}") == 98765);
  // The session cache lines of mod_ssl ("CacheType: SHMCB") are not mistaken for anything.
  CHECK(series.size() == 44);
}

TEST_CASE("every MPM of Apache 2.4, with and without ExtendedStatus", "[apache]") {
  for (const std::string mpm : {"prefork", "worker", "event"}) {
    INFO(mpm);
    const auto on = Series(Page("apache-2.4-" + mpm + "-extended-on.txt"));
    CHECK(on.at("apache_info{version=\"Apache/2.4.71 (Debian)\",mpm=\"" + mpm + "\"}") == 1);
    CHECK(on.at("apache_version") == 2.04071);
    CHECK(on.at("apache_accesses_total") == 3);
    CHECK(on.at("apache_workers{state=\"busy\"}") == 1);
    CHECK(on.count("apache_duration_ms_total") == 1);
    CHECK(on.count("apache_cpu_time_ms_total{type=\"user\"}") == 1);
    CHECK(on.count("apache_uptime_seconds_total") == 1);
    CHECK(on.at("apache_scoreboard{state=\"reply\"}") == 1);
    // Only the event MPM counts connections.
    CHECK(on.count("apache_connections{state=\"total\"}") == (mpm == "event" ? 1 : 0));

    // Without ExtendedStatus the request counters are absent, not zero.
    const auto off = Series(Page("apache-2.4-" + mpm + "-extended-off.txt"));
    CHECK(off.count("apache_accesses_total") == 0);
    CHECK(off.count("apache_sent_kilobytes_total") == 0);
    CHECK(off.count("apache_cpu_time_ms_total{type=\"user\"}") == 0);
    CHECK(off.count("apache_cpuload") == 0);
    CHECK(off.count("apache_uptime_seconds_total") == 0);
    CHECK(off.at("apache_workers{state=\"idle\"}") >= 1);
    CHECK(off.at("apache_load{interval=\"5min\"}") > 0);
    CHECK(off.at("apache_generation{type=\"config\"}") == 1);
    CHECK(off.at("apache_scoreboard{state=\"reply\"}") == 1);
  }
}

TEST_CASE("Apache 2.2 pages: what they print and nothing more", "[apache]") {
  const auto extended = Series(Page("apache-2.2-prefork-extended-on.txt"));
  CHECK(Names(extended) == std::set<std::string>{"apache_accesses_total", "apache_cpuload",
                                                 "apache_scoreboard", "apache_sent_kilobytes_total",
                                                 "apache_uptime_seconds_total", "apache_workers"});
  CHECK(extended.at("apache_accesses_total") == 2730);
  CHECK(extended.at("apache_sent_kilobytes_total") == 31493);
  CHECK(extended.at("apache_cpuload") == 0.0150502);
  CHECK(extended.at("apache_scoreboard{state=\"keepalive\"}") == 1);
  CHECK(extended.at("apache_scoreboard{state=\"closing\"}") == 1);

  const auto plain = Series(Page("apache-2.2-worker-extended-off.txt"));
  CHECK(Names(plain) == std::set<std::string>{"apache_scoreboard", "apache_workers"});
  CHECK(plain.at("apache_workers{state=\"busy\"}") == 3);
  CHECK(plain.at("apache_scoreboard{state=\"read\"}") == 1);
  CHECK(plain.at("apache_scoreboard{state=\"open_slot\"}") == 4);
}

TEST_CASE("version numbers as the Apache exporter computes them", "[apache]") {
  CHECK(ApacheVersionNumber("Apache/2.4.62 (Debian)") == 2.04062);
  CHECK(ApacheVersionNumber("Apache/2.2.3") == 2.02003);
  CHECK(ApacheVersionNumber("Apache/2.4.7") == 2.04007);
  CHECK_FALSE(ApacheVersionNumber("Apache"));  // ServerTokens Prod
  CHECK_FALSE(ApacheVersionNumber("Apache/2.4"));
  CHECK_FALSE(ApacheVersionNumber("Apache/2.x.1"));
  CHECK_FALSE(ApacheVersionNumber("Apache/2.4.1234"));
  // A page with ServerTokens Prod still exports its info, without apache_version.
  const auto series = Series("ServerVersion: Apache\nServerMPM: event\nBusyWorkers: 1\n");
  CHECK(series.at("apache_info{version=\"Apache\",mpm=\"event\"}") == 1);
  CHECK(series.count("apache_version") == 0);
}

TEST_CASE("garbage, HTML and truncated pages are rejected with a reason", "[apache]") {
  std::string error;
  CHECK_FALSE(ParseApacheStatus("", error));
  CHECK(error == "mod_status: no Scoreboard or BusyWorkers line; not a ?auto page of mod_status");
  CHECK_FALSE(ParseApacheStatus("<!DOCTYPE HTML PUBLIC>\n<html><head>...", error));
  CHECK(error == "mod_status: an HTML page, not the machine-readable one; add ?auto to the url");
  CHECK_FALSE(ParseApacheStatus("Active connections: 1\nserver accepts handled requests\n", error));
  CHECK(error == "mod_status: no Scoreboard or BusyWorkers line; not a ?auto page of mod_status");
  CHECK_FALSE(ParseApacheStatus("localhost\nTotal Accesses: 12x\nBusyWorkers: 1\n", error));
  CHECK(error == "mod_status: line 2: Total Accesses: \"12x\" is not a number");
  CHECK_FALSE(ParseApacheStatus("BusyWorkers: \nScoreboard: __\n", error));
  CHECK(error == "mod_status: line 1: BusyWorkers: \"\" is not a number");
  CHECK_FALSE(
      ParseApacheStatus("BusyWorkers: 1\nProxyBalancer[0]Name: b\nProxyBalancer[0]Worker[0]Name: "
                        "w\nProxyBalancer[0]Worker[0]Elected: many\n",
                        error));
  CHECK(error == "mod_status: line 4: ProxyBalancer[0]Worker[0]Elected: \"many\" is not a number");
  // Truncated before the worker counts: not a status page. Truncated after them: what arrived
  // is exported, the rest is absent.
  const std::string full = Page("apache-2.4-event-extended-on.txt");
  CHECK_FALSE(ParseApacheStatus(full.substr(0, full.find("BusyWorkers")), error));
  CHECK(error == "mod_status: no Scoreboard or BusyWorkers line; not a ?auto page of mod_status");
  const auto truncated = Series(full.substr(0, full.find("Scoreboard")));
  CHECK(truncated.at("apache_workers{state=\"busy\"}") == 1);
  CHECK(truncated.count("apache_scoreboard{state=\"idle\"}") == 0);
  CHECK(truncated.at("apache_accesses_total") == 3);
}

TEST_CASE("scoreboard bytes outside printable ASCII become state=\"unknown\"", "[apache]") {
  const auto series = Series(std::string("Scoreboard: _\x01\xff\n", 16));
  CHECK(series.at("apache_scoreboard{state=\"idle\"}") == 1);
  CHECK(series.at("apache_scoreboard{state=\"unknown\"}") == 2);
}

TEST_CASE("examples/apache.yaml loads without errors", "[apache]") {
  const ConfigLoad load =
      LoadConfigFile(std::filesystem::path(SIDECAR_SOURCE_DIR) / "examples" / "apache.yaml");
  std::string errors;
  for (const ConfigError& error : load.errors) errors += error.ToString() + "\n";
  CHECK(errors == "");
  REQUIRE(load.config);
  CHECK(load.config->collectors.size() == 2);
  CHECK(load.config->collectors[0].type == "apache_status");
}

}  // namespace
}  // namespace sidecar
