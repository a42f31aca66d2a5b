// The status page in a real browser: headless Chromium loads it while a real nginx takes a mix
// of statuses, and the numbers it renders are checked against the traffic sent. Screenshots for a
// laptop and a phone go to SIDECAR_ARTIFACTS_DIR; the HTML goes through html-validate.

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "simdjson.h"
#include "tests/support/apache.h"
#include "tests/support/peers.h"
#include "tests/support/php_fpm.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace sidecar::testing {
namespace {

constexpr const char* kTimedFormat =
    R"($remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time)";

// The traffic: 50 requests, 10 of them 4xx (20.0 %) and 7 of them 5xx (14.0 %).
const std::vector<std::pair<std::string, int>> kTraffic = {
    {"/", 31},          {"/status/301", 2}, {"/status/404", 9},
    {"/status/429", 1}, {"/status/500", 5}, {"/status/503", 2},
};
constexpr int kRequests = 50;

std::filesystem::path ArtifactsDir() {
  std::filesystem::path dir = SIDECAR_ARTIFACTS_DIR;
  std::filesystem::create_directories(dir);
  return dir;
}

// What one headless Chromium run left behind.
struct BrowserRun {
  CommandResult result;  // output: what Chromium printed on stdout
  std::string log;       // its stderr
  std::string net_log;
};

// Headless Chromium with a fresh profile, every background service it can switch off switched
// off, and host names resolving to nothing but 127.0.0.1, so that the test cannot reach beyond
// the machine even if the page tried.
BrowserRun RunChromium(const TempDir& dir, const std::string& name,
                       std::vector<std::string> extra) {
  const std::string chromium = FindExecutable("chromium");
  REQUIRE_FALSE(chromium.empty());
  const auto net_log = dir / (name + "-netlog.json");
  std::vector<std::string> argv = {chromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--user-data-dir=" + (dir / (name + "-profile")).string(),
                                   "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                                   "--enable-logging=stderr",
                                   "--v=0",
                                   "--log-net-log=" + net_log.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  // stdout is the page (--dump-dom); Chromium's log, console messages included, goes to a file.
  const auto log = dir / (name + "-chromium.log");
  std::vector<std::string> command = {"sh",         "-c",      "exec \"$@\" 2>\"$0\"",
                                      log.string(), "timeout", "120"};
  command.insert(command.end(), argv.begin(), argv.end());
  BrowserRun done;
  done.result = RunCommand(command);
  if (std::filesystem::exists(log)) done.log = ReadFile(log);
  if (std::filesystem::exists(net_log)) done.net_log = ReadFile(net_log);
  return done;
}

// Every console message Chromium logged for the page ("CONSOLE" lines, errors included).
std::vector<std::string> ConsoleMessages(const std::string& output) {
  std::vector<std::string> messages;
  std::size_t at = 0;
  while ((at = output.find(":CONSOLE", at)) != std::string::npos) {
    const std::size_t end = output.find('\n', at);
    messages.push_back(output.substr(at, end - at));
    at = end;
  }
  return messages;
}

// The URLs of the requests the page made (Chromium's own background requests have no origin as
// their initiator; page requests name the page's origin), and of every request in the log.
struct NetLogRequests {
  std::vector<std::string> from_page;
  std::vector<std::string> all;
};

NetLogRequests RequestsIn(const std::string& net_log) {
  NetLogRequests requests;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.parse(net_log).get(root) == simdjson::SUCCESS);
  int64_t start_job = -1;
  REQUIRE(root["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].get(start_job) ==
          simdjson::SUCCESS);
  for (simdjson::dom::element event : root["events"].get_array()) {
    int64_t type = -1;
    if (event["type"].get(type) != simdjson::SUCCESS || type != start_job) continue;
    std::string_view url;
    if (event["params"]["url"].get(url) != simdjson::SUCCESS) continue;
    requests.all.emplace_back(url);
    std::string_view initiator;
    if (event["params"]["initiator"].get(initiator) == simdjson::SUCCESS &&
        initiator != "not an origin") {
      requests.from_page.emplace_back(url);
    }
  }
  return requests;
}

// Chromium loaded `page`, logged nothing on its console (errors, CSP violations), and the page
// asked nothing of anywhere but under `origin`.
void CheckStayedOnPage(const BrowserRun& run, const std::string& page, const std::string& origin) {
  CHECK(ConsoleMessages(run.log).empty());
  REQUIRE_FALSE(run.net_log.empty());
  const NetLogRequests requests = RequestsIn(run.net_log);
  CHECK(std::find(requests.all.begin(), requests.all.end(), page) != requests.all.end());
  for (const std::string& url : requests.from_page) {
    INFO(url);
    CHECK(url.starts_with(origin));
  }
}

// Screenshots of `page`, one per name and window size ("WIDTH,HEIGHT"), saved in the artifacts
// directory as status-page-NAME.png; Chromium logs nothing on the console for any of them.
void TakeScreenshots(const TempDir& browser, const std::string& page,
                     const std::vector<std::pair<std::string, std::string>>& sizes) {
  for (const auto& [name, size] : sizes) {
    const auto file = ArtifactsDir() / ("status-page-" + name + ".png");
    std::filesystem::remove(file);
    const BrowserRun shot = RunChromium(
        browser, name,
        {"--window-size=" + size, "--hide-scrollbars", "--screenshot=" + file.string(), page});
    INFO(shot.log.substr(0, 4000));
    CHECK(shot.result.exit_code == 0);
    CHECK(std::filesystem::exists(file));
    CHECK(ConsoleMessages(shot.log).empty());
  }
}

// The text of the cell with that data-field and data-window in the rendered DOM.
std::string FieldText(const std::string& dom, const std::string& section, const std::string& field,
                      int window) {
  const std::size_t start = dom.find("id=\"source-" + section + "\"");
  if (start == std::string::npos) return "(no section " + section + ")";
  const std::size_t end = dom.find("</section>", start);
  const std::string key =
      "data-field=\"" + field + "\" data-window=\"" + std::to_string(window) + "\">";
  const std::size_t at = dom.find(key, start);
  if (at == std::string::npos || at > end) return "(no field " + field + ")";
  const std::size_t value = at + key.size();
  return dom.substr(value, dom.find('<', value) - value);
}

// The rows of a data-list table in a section: first cell -> second cell.
std::map<std::string, std::string> ListRows(const std::string& dom, const std::string& section,
                                            const std::string& list) {
  std::map<std::string, std::string> rows;
  const std::size_t start = dom.find("id=\"source-" + section + "\"");
  const std::size_t table = dom.find("data-list=\"" + list + "\"", start);
  if (start == std::string::npos || table == std::string::npos) return rows;
  const std::string body = dom.substr(table, dom.find("</table>", table) - table);
  const std::regex row(
      R"re(<tr><td>(?:<code>)?([^<]*)(?:</code>)?</td><td class="n">([^<]*)</td>)re");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), row); it != std::sregex_iterator();
       ++it) {
    rows[(*it)[1]] = (*it)[2];
  }
  return rows;
}

// Polls /api/v1/status until the last snapshot's minute shows `requests` for `source`.
bool WaitForSnapshotWith(ExporterProcess& exporter, const std::string& source, double requests) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (std::chrono::steady_clock::now() < deadline) {
    const HttpResult status = HttpGet(exporter.url("/api/v1/status"));
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (status.status == 200 && parser.parse(status.body).get(root) == simdjson::SUCCESS) {
      for (simdjson::dom::element entry : root["sources"].get_array()) {
        std::string_view name;
        double seen = -1;
        if (entry["name"].get(name) == simdjson::SUCCESS && name == source &&
            entry["windows"].at(0)["requests"].get(seen) == simdjson::SUCCESS && seen == requests) {
          return true;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

// The span a window's column header names while the history is shorter than the window:
// "last 1 min <small>(35 s so far)</small>" -> 35.
double SpanSoFar(const std::string& dom, const std::string& section) {
  const std::size_t start = dom.find("id=\"source-" + section + "\"");
  const std::regex so_far(R"re(last 1 min <small>\((\d+) s so far\)</small>)re");
  std::smatch match;
  const std::string rest = dom.substr(start == std::string::npos ? dom.size() : start);
  if (!std::regex_search(rest, match, so_far)) return 0;
  return std::stod(match[1]);
}

std::string Config(const NginxServer& nginx) {
  return std::string("collectors:\n  - type: access_log\n    name: web\n") + "    paths: ['" +
         nginx.access_log().string() + "']\n    log_format: '" + kTimedFormat +
         "'\n    labels: [method, status, path, remote_addr]\n"
         "  - type: access_log\n    name: quiet\n    paths: ['" +
         (nginx.dir() / "logs" / "quiet.log").string() +
         "']\n  - type: nginx_status\n    name: nginx\n    url: '" + nginx.url("/stub_status") +
         "'\n";
}

TEST_CASE("Chromium renders the status page with the numbers of the traffic nginx took",
          "[browser]") {
  if (FindExecutable("chromium").empty()) {
    WARN("SKIP: chromium is not installed (scripts/install-deps.sh installs it)");
    return;
  }
  NginxServer nginx;
  nginx.Start();
  WriteFile(nginx.dir() / "logs" / "quiet.log", "");
  ExporterProcess exporter(Config(nginx));
  // A first snapshot before the traffic, so that the minute holds all of it.
  REQUIRE(WaitForSnapshotWith(exporter, "web", 0));
  for (const auto& [path, count] : kTraffic) {
    for (int i = 0; i < count; ++i) REQUIRE(HttpGet(nginx.url(path)).status > 0);
  }
  REQUIRE(WaitForSnapshotWith(exporter, "web", kRequests));

  TempDir browser;
  const std::string page = exporter.url("/");
  const BrowserRun run = RunChromium(browser, "dom", {"--dump-dom", page});
  INFO(run.log.substr(0, 4000));
  REQUIRE(run.result.exit_code == 0);
  const std::string& dom = run.result.output;
  WriteFile(ArtifactsDir() / "status-page-dom.html", dom);

  // The figures of the last minute, as rendered.
  CHECK(FieldText(dom, "web", "requests", 60) == "50");
  CHECK(FieldText(dom, "web", "share_4xx", 60) == "20.0 %");
  CHECK(FieldText(dom, "web", "share_5xx", 60) == "14.0 %");
  // nginx's `return` answers in 0 ms: every quantile lies in the first bucket, (0, 5 ms].
  CHECK_THAT(FieldText(dom, "web", "latency_p99", 60), Catch::EndsWith("(0 – 5 ms)"));
  const std::map<std::string, std::string> mix = ListRows(dom, "web", "status");
  CHECK(mix ==
        std::map<std::string, std::string>{
            {"200", "31"}, {"301", "2"}, {"404", "9"}, {"429", "1"}, {"500", "5"}, {"503", "2"}});
  const std::map<std::string, std::string> paths = ListRows(dom, "web", "paths");
  CHECK(paths.at("/") == "31");
  CHECK(paths.at("/status/404") == "9");
  CHECK(ListRows(dom, "web", "clients") == std::map<std::string, std::string>{{"127.0.0.1", "50"}});
  // A log without traffic says so instead of 0 %.
  CHECK(FieldText(dom, "quiet", "share_5xx", 60) == "no traffic");
  CHECK(FieldText(dom, "quiet", "requests_per_second", 60) == "no traffic");
  // nginx: connections by state and up for every snapshot so far.
  CHECK_THAT(dom, Catch::Contains("active connections"));
  CHECK(FieldText(dom, "nginx", "up_ratio", 60) == "100 % of snapshots");
  CHECK_THAT(dom, Catch::Contains("<svg viewBox"));

  CheckStayedOnPage(run, page, exporter.url("/"));
  // Screenshots, as a laptop and a phone show the page.
  TakeScreenshots(browser, page + "?refresh=0", {{"laptop", "1366,2200"}, {"phone", "390,2600"}});
}

// html-validate's verdict on `html`, with the recommended rules but one: the page refreshes
// itself (meta refresh) and offers a link that turns it off, which WCAG 2.2.1 accepts for time
// limits a user can switch off. Nullopt when html-validate is not installed.
std::optional<CommandResult> ValidateHtml(const std::string& html) {
  const std::filesystem::path validator = std::filesystem::path(SIDECAR_NODE_DIR) / "node_modules" /
                                          "html-validate" / "bin" / "html-validate.mjs";
  if (!std::filesystem::exists(validator) || FindExecutable("node").empty()) return std::nullopt;
  TempDir dir;
  WriteFile(dir / "html-validate.json",
            R"({"extends": ["html-validate:recommended"], "rules": {"meta-refresh": "off"}})");
  WriteFile(dir / "page.html", html);
  return RunCommand({"node", validator.string(), "--config", (dir / "html-validate.json").string(),
                     (dir / "page.html").string()});
}

TEST_CASE("the status page is valid HTML", "[browser]") {
  if (!ValidateHtml("<!DOCTYPE html>")) {
    WARN("SKIP: html-validate is not installed; run scripts/deploy-deps.sh " SIDECAR_NODE_DIR);
    return;
  }
  NginxServer nginx;
  nginx.Start();
  WriteFile(nginx.dir() / "logs" / "quiet.log", "");
  ExporterProcess exporter(Config(nginx));
  REQUIRE(WaitForSnapshotWith(exporter, "web", 0));
  for (int i = 0; i < 5; ++i) REQUIRE(HttpGet(nginx.url("/status/404")).status == 404);
  REQUIRE(WaitForSnapshotWith(exporter, "web", 5));
  for (const std::string path : {"/", "/?refresh=0"}) {
    const HttpResult page = HttpGet(exporter.url(path));
    REQUIRE(page.status == 200);
    const auto result = ValidateHtml(page.body);
    REQUIRE(result);
    INFO(path << "\n" << result->output);
    CHECK(result->exit_code == 0);
  }
}

// The pod with Apache (mod_status and its access log), PHP-FPM behind nginx, and probes: one
// probe of each kind that passes and one that fails.
TEST_CASE("Chromium shows Apache, PHP-FPM and probes with the numbers of the traffic sent",
          "[browser]") {
  if (FindExecutable("chromium").empty()) {
    WARN("SKIP: chromium is not installed (scripts/install-deps.sh installs it)");
    return;
  }
  ApacheServer apache;
  apache.Start();
  PhpFpmServer fpm(3, 2);
  fpm.Start();
  NginxServer nginx;
  const int front = FreePort();
  nginx.AddHttpConfig(fpm.NginxServerBlock(front));
  nginx.Start();
  REQUIRE(WaitForPort(front, std::chrono::seconds(5)));
  const std::string php = "http://127.0.0.1:" + std::to_string(front);
  const int closed = FreePort();
  const std::string config =
      "collectors:\n"
      "  - {type: apache_status, name: apache, url: '" +
      apache.url("/server-status?auto") +
      "'}\n"
      "  - type: access_log\n    name: apache_access\n    format: apache\n    log_format: '" +
      ApacheServer::kTimedLogFormat + "'\n    paths: ['" + apache.timed_log().string() +
      "']\n    labels: [method, status, path]\n"
      "  - {type: php_fpm, name: fpm_www, address: 'unix://" +
      fpm.unix_socket().string() +
      "', status_path: /status}\n"
      "  - {type: http_probe, name: home, url: '" +
      nginx.url("/") +
      "'}\n"
      "  - {type: http_probe, name: checkout, url: '" +
      nginx.url("/status/503") +
      "'}\n"
      "  - type: tcp_probe\n    name: web_tcp\n    address: 127.0.0.1:" +
      std::to_string(nginx.port()) +
      "\n    query_response: [{send: \"GET / HTTP/1.0\\r\"}, {send: \"\\r\"},"
      " {expect: '^HTTP/1\\.1 200'}]\n"
      "  - {type: tcp_probe, name: cache, address: '127.0.0.1:" +
      std::to_string(closed) + "'}\n";
  ExporterProcess exporter(config);
  // A first snapshot before the traffic: the minute's window starts there.
  REQUIRE(WaitForSnapshotWith(exporter, "apache_access", 0));
  constexpr int kApacheOk = 20;
  constexpr int kApacheMissing = 5;
  constexpr int kPhp = 30;
  // PHP first: the snapshot that holds Apache's last request then holds every PHP request too.
  for (int i = 0; i < kPhp; ++i) {
    REQUIRE(HttpGet(php + "/www/hello.php").status == 200);
  }
  for (int i = 0; i < kApacheOk; ++i) {
    REQUIRE(HttpGet(apache.url("/static/index.html")).status == 200);
  }
  for (int i = 0; i < kApacheMissing; ++i) {
    REQUIRE(HttpGet(apache.url("/nope")).status == 404);
  }
  // Wait until a snapshot holds the traffic, then load the page right away (the next snapshot is
  // up to 5 s off; the checks read the span from the page itself).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (std::chrono::steady_clock::now() < deadline) {
    const HttpResult status = HttpGet(exporter.url("/api/v1/status"));
    if (status.body.find("\"/nope\",\"requests\":5") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  TempDir browser;
  const std::string page = exporter.url("/?refresh=0");
  const BrowserRun run = RunChromium(browser, "pod-dom", {"--dump-dom", page});
  INFO(run.log.substr(0, 4000));
  REQUIRE(run.result.exit_code == 0);
  const std::string& dom = run.result.output;
  WriteFile(ArtifactsDir() / "status-page-pod-dom.html", dom);

  // Every source has its section, with the kind the page recognised.
  for (const auto& [name, kind] :
       std::vector<std::pair<std::string, std::string>>{{"apache", "apache"},
                                                        {"apache-access", "access_log"},
                                                        {"fpm-www", "php-fpm"},
                                                        {"home", "probe"},
                                                        {"checkout", "probe"},
                                                        {"web-tcp", "probe"},
                                                        {"cache", "probe"}}) {
    INFO(name);
    CHECK_THAT(dom, Catch::Contains("id=\"source-" + name + "\" data-kind=\"" + kind + "\""));
  }

  // Apache's access log: exactly the paths sent, beside the exporter's own mod_status fetches.
  const std::map<std::string, std::string> paths = ListRows(dom, "apache-access", "paths");
  CHECK(paths.at("/static/index.html") == std::to_string(kApacheOk));
  CHECK(paths.at("/nope") == std::to_string(kApacheMissing));
  const int status_fetches =
      paths.contains("/server-status") ? std::stoi(paths.at("/server-status")) : 0;
  CHECK(status_fetches >= 1);
  const int apache_requests = kApacheOk + kApacheMissing + status_fetches;
  CHECK(FieldText(dom, "apache-access", "requests", 60) == std::to_string(apache_requests));
  char share[32];
  std::snprintf(share, sizeof share, "%.1f %%", 100.0 * kApacheMissing / apache_requests);
  CHECK(FieldText(dom, "apache-access", "share_4xx", 60) == share);
  CHECK(FieldText(dom, "apache-access", "share_5xx", 60) == "0.0 %");

  // mod_status: accesses over the minute are the traffic plus one status fetch per snapshot
  // interval; the page shows them as a rate over the span it names.
  const double span = SpanSoFar(dom, "apache");
  REQUIRE(span > 0);
  const double intervals = std::round(span / 5);
  const auto requests_in_window = [&](const std::string& section, const std::string& field) {
    return std::stod(FieldText(dom, section, field, 60)) * span;
  };
  CHECK_THAT(requests_in_window("apache", "rate-requests"),
             Catch::WithinAbs(kApacheOk + kApacheMissing + intervals, 0.5));
  CHECK(FieldText(dom, "apache", "up_ratio", 60) == "100 % of snapshots");
  // Workers by state on one row; the one busy worker is the one answering the status request.
  CHECK_THAT(dom,
             Catch::Contains(
                 "<td>workers</td><td>busy <b data-field=\"gauge-workers-busy\">1</b> · idle "));
  CHECK_THAT(dom, Catch::Contains("<td>scoreboard</td><td>"));

  // PHP-FPM: the static pool's three children, one of them serving the status request itself,
  // and every PHP request nginx passed it plus one status request per snapshot interval.
  CHECK(FieldText(dom, "fpm-www", "gauge-processes", 0) == "3");
  CHECK(FieldText(dom, "fpm-www", "gauge-active-processes", 0) == "1");
  CHECK(FieldText(dom, "fpm-www", "gauge-idle-processes", 0) == "2");
  CHECK_THAT(requests_in_window("fpm-www", "rate-accepted-connections"),
             Catch::WithinAbs(kPhp + intervals, 0.5));
  CHECK(FieldText(dom, "fpm-www", "up_ratio", 60) == "100 % of snapshots");

  // Probes: the passing ones up in every snapshot with their status, the failing ones down with
  // their reason.
  CHECK(FieldText(dom, "home", "up_ratio", 60) == "100 % of snapshots");
  CHECK(FieldText(dom, "home", "gauge-HTTP-status", 0) == "200");
  CHECK(FieldText(dom, "web-tcp", "up_ratio", 60) == "100 % of snapshots");
  CHECK(FieldText(dom, "checkout", "up_ratio", 60) == "0 % of snapshots");
  CHECK(FieldText(dom, "checkout", "gauge-HTTP-status", 0) == "503");
  CHECK_THAT(dom, Catch::Contains("Failure reason: <code class=\"err\">status_code</code>"));
  CHECK(FieldText(dom, "cache", "up_ratio", 60) == "0 % of snapshots");
  CHECK_THAT(dom, Catch::Contains("Failure reason: <code class=\"err\">connection_refused</code>"));

  // The page as served (Apache's states on one row, probes, failure reasons) is valid HTML.
  if (const auto validated = ValidateHtml(HttpGet(exporter.url("/")).body)) {
    INFO(validated->output);
    CHECK(validated->exit_code == 0);
  } else {
    WARN("SKIP (validation only): html-validate is not installed");
  }

  // The same pod in a terminal.
  const HttpResult text = HttpGet(exporter.url("/"), {"Accept: text/plain"});
  WriteFile(ArtifactsDir() / "status-page-pod.txt", text.body);
  CHECK_THAT(text.body, Catch::Contains("checkout (probe): DOWN: status_code\n"));
  CHECK_THAT(text.body, Catch::Contains("cache (probe): DOWN: connection_refused\n"));
  CHECK_THAT(text.body, Catch::Contains("fpm_www (PHP-FPM): up\n"));
  CHECK_THAT(text.body, Catch::Contains("apache (Apache): up\n  now: workers: busy 1 · idle "));

  CheckStayedOnPage(run, page, exporter.url("/"));
  TakeScreenshots(browser, page, {{"pod-laptop", "1366,5200"}, {"pod-phone", "390,9000"}});
}

}  // namespace
}  // namespace sidecar::testing
