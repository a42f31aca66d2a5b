#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "collectors/http/curl_support.h"
#include "collectors/probes/http_probe_collector.h"
#include "collectors/probes/probe_outcome.h"
#include "collectors/probes/tcp_probe_collector.h"
#include "exporter/config.h"
#include "tests/support/temp_dir.h"

namespace sidecar {
namespace {

std::vector<std::string> Errors(const std::string& collector_yaml) {
  std::vector<std::string> errors;
  for (const ConfigError& error :
       ParseConfig("collectors:\n  - name: probe\n" + collector_yaml, "test.yaml").errors) {
    errors.push_back(error.ToString());
  }
  return errors;
}

const prometheus::MetricFamily* Find(const std::vector<prometheus::MetricFamily>& families,
                                     const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

TEST_CASE("http_probe: every field decodes", "[config][probes]") {
  testing::TempDir dir;
  testing::WriteFile(dir / "pw", "secret\n");
  testing::WriteFile(dir / "ca.pem", "not checked at load\n");
  const std::vector<std::string> errors =
      Errors(R"(    type: http_probe
    url: https://127.0.0.1:8443/healthz
    unix_socket: /run/app.sock
    method: POST
    headers: {Accept: application/json, X-Probe: sidecar}
    body: '{"deep": true}'
    valid_status_codes: [200, 204]
    follow_redirects: false
    valid_http_versions: [HTTP/1.1, HTTP/2.0]
    fail_if_not_ssl: true
    proxy_url: http://127.0.0.1:3128
    fail_if_body_matches_regexp: ['"status":\s*"DOWN"']
    fail_if_body_not_matches_regexp: ['"status":\s*"UP"']
    fail_if_header_matches: [{header: X-Degraded, regexp: 'true', allow_missing: true}]
    fail_if_header_not_matches: [{header: Content-Type, regexp: json}]
    tls: {ca_file: )" +
             (dir / "ca.pem").string() +
             R"(, server_name: app.local, insecure_skip_verify: false}
    basic_auth: {username: probe, password_file: )" +
             (dir / "pw").string() + R"(}
    timeout: 2s
    max_response_bytes: 4096
)");
  for (const auto& error : errors) UNSCOPED_INFO(error);
  CHECK(errors.empty());
}

TEST_CASE("http_probe: errors land on their field", "[config][probes]") {
  CHECK(Errors("    type: http_probe\n") ==
        std::vector<std::string>{"test.yaml:2:5: collectors[0].url: missing required field "
                                 "\"url\""});
  CHECK(Errors("    type: http_probe\n    url: http://x/\n    valid_status_codes: [200, 2xx]\n") ==
        std::vector<std::string>{"test.yaml:5:25: collectors[0].valid_status_codes: [1]: \"2xx\" "
                                 "is not an HTTP status code (100 to 599)"});
  CHECK(Errors("    type: http_probe\n    url: http://x/\n    fail_if_body_matches_regexp: "
               "['ok', '(']\n") ==
        std::vector<std::string>{"test.yaml:5:34: collectors[0].fail_if_body_matches_regexp: "
                                 "[1]: invalid regular expression \"(\": missing ): ("});
  CHECK(Errors("    type: http_probe\n    url: http://x/\n    fail_if_header_matches: [{header: "
               "X-A}]\n") ==
        std::vector<std::string>{"test.yaml:5:30: collectors[0].fail_if_header_matches[0].regexp: "
                                 "missing required field \"regexp\""});
  CHECK(Errors("    type: http_probe\n    url: http://x/\n    method: BREW\n") ==
        std::vector<std::string>{"test.yaml:5:13: collectors[0].method: unknown value \"BREW\"; "
                                 "allowed: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"});
  CHECK(Errors("    type: http_probe\n    url: http://x/\n    headers: {'Bad Name': x}\n") ==
        std::vector<std::string>{
            "test.yaml:5:14: collectors[0].headers: invalid header name \"Bad Name\""});
  CHECK(
      Errors("    type: http_probe\n    url: http://x/\n    tls: {cert_file: /nonexistent/c}\n") ==
      std::vector<std::string>{
          "test.yaml:5:22: collectors[0].tls.cert_file: cannot read \"/nonexistent/c\"",
          "test.yaml:5:22: collectors[0].tls.cert_file: cert_file and key_file go together: set "
          "both or neither"});
  CHECK(Errors("    type: http_probe\n    url: http://x/\n    tls: {colour: red}\n") ==
        std::vector<std::string>{
            "test.yaml:5:11: collectors[0].tls.colour: unknown field \"colour\"; allowed here: "
            "ca_file, cert_file, insecure_skip_verify, key_file, server_name"});
  CHECK(Errors("    type: http_probe\n    url: http://x/\n    basic_auth: {username: u}\n") ==
        std::vector<std::string>{"test.yaml:5:17: collectors[0].basic_auth.password_file: missing "
                                 "required field \"password_file\""});
  CHECK(Errors("    type: http_probe\n    url: http://x/\n    valid_http_versions: [HTTP/1.1, "
               "HTTP/2]\n") ==
        std::vector<std::string>{
            "test.yaml:5:26: collectors[0].valid_http_versions: [1]: \"HTTP/2\" is none of "
            "HTTP/1.0, HTTP/1.1, HTTP/2.0, HTTP/3.0 (Go's spelling, which blackbox_exporter "
            "compares with)"});
  CHECK(Errors("    type: http_probe\n    url: http://x/\n    fail_if_ssl: true\n    "
               "fail_if_not_ssl: true\n") ==
        std::vector<std::string>{"test.yaml:6:22: collectors[0].fail_if_not_ssl: fail_if_ssl and "
                                 "fail_if_not_ssl together fail every probe"});
  CHECK(Errors("    type: http_probe\n    url: http://x/\n    proxy_url: 127.0.0.1:3128\n") ==
        std::vector<std::string>{
            "test.yaml:5:16: collectors[0].proxy_url: \"127.0.0.1:3128\" is not a proxy URL such "
            "as http://127.0.0.1:3128 (schemes http, https, socks5, socks5h)"});
  CHECK(Errors("    type: http_probe\n    url: http://x/\n    bearer_token_file: /nonexistent\n") ==
        std::vector<std::string>{
            "test.yaml:5:24: collectors[0].bearer_token_file: cannot read \"/nonexistent\""});
}

TEST_CASE("tcp_probe: fields decode and errors land on their field", "[config][probes]") {
  CHECK(Errors("    type: tcp_probe\n    address: 127.0.0.1:6379\n    tls: {insecure_skip_verify: "
               "true}\n    query_response: [{send: PING}, {expect: '^\\+PONG', send: QUIT}]\n    "
               "timeout: 1s\n")
            .empty());
  CHECK(Errors("    type: tcp_probe\n    address: '[::1]:6379'\n").empty());
  CHECK(Errors("    type: tcp_probe\n") ==
        std::vector<std::string>{"test.yaml:2:5: collectors[0].address: missing required field "
                                 "\"address\""});
  CHECK(Errors("    type: tcp_probe\n    address: 127.0.0.1:70000\n") ==
        std::vector<std::string>{"test.yaml:4:14: collectors[0].address: invalid address "
                                 "\"127.0.0.1:70000\"; want host:port or [v6]:port, such as "
                                 "127.0.0.1:6379"});
  CHECK(Errors("    type: tcp_probe\n    address: h:1\n    query_response: [{expect: '[a'}, {}, "
               "{starttls: true}]\n") ==
        std::vector<std::string>{
            "test.yaml:5:31: collectors[0].query_response[0].expect: invalid regular expression "
            "\"[a\": missing ]: [a",
            "test.yaml:5:38: collectors[0].query_response[1]: a step needs \"expect\", \"send\" or "
            "both",
            "test.yaml:5:42: collectors[0].query_response[2]: a step needs \"expect\", \"send\" or "
            "both",
            "test.yaml:5:43: collectors[0].query_response[2].starttls: unknown field \"starttls\"; "
            "allowed here: expect, send"});
}

TEST_CASE("send templates expand as Go's Regexp.Expand does", "[probes]") {
  const RE2 regex(R"((?P<word>\w+)-(\d+))");
  const std::vector<std::string_view> groups = {"abc-12", "abc", "12"};
  CHECK(ExpandTemplate("plain", regex, groups) == "plain");
  CHECK(ExpandTemplate("$1 ${2} ${word} $word", regex, groups) == "abc 12 abc abc");
  CHECK(ExpandTemplate("$$1 costs $", regex, groups) == "$1 costs $");
  CHECK(ExpandTemplate("$1x|${1}x", regex, groups) == "|abcx");  // "$1x" names group "1x"
  CHECK(ExpandTemplate("$9 $unknown ${2", regex, groups) == "  ${2");
  CHECK(ExpandTemplate("$01", regex, groups) == "");  // leading zero: a name, not a number
  CHECK(ExpandTemplate("$0", regex, groups) == "abc-12");
}

TEST_CASE("certificate times as libcurl reports them", "[probes]") {
  CHECK(ParseCertificateTime("Nov 29 18:49:00 2027 GMT") == 1827514140);
  CHECK(ParseCertificateTime("Mar  1 00:00:00 2030 GMT") == 1898553600);
  CHECK(ParseCertificateTime("2027-11-29 18:49:00 GMT") == 1827514140);
  CHECK_FALSE(ParseCertificateTime(""));
  CHECK_FALSE(ParseCertificateTime("Nov 29 18:49:00 2027"));
  CHECK_FALSE(ParseCertificateTime("Foo 29 18:49:00 2027 GMT"));
  CHECK_FALSE(ParseCertificateTime("Nov 32 18:49:00 2027 GMT"));
  CHECK_FALSE(ParseCertificateTime("2027-13-29 18:49:00 GMT"));
  CHECK(TlsVersionLabel("TLSv1.3") == "TLS 1.3");
  CHECK(TlsVersionLabel("TLSv1.2") == "TLS 1.2");
  CHECK(TlsVersionLabel("TLSv1") == "TLS 1.0");
}

TEST_CASE("probe_failure_reason is there exactly while the probe fails", "[probes]") {
  ProbeOutcome outcome;
  outcome.success = true;
  std::vector<prometheus::MetricFamily> families;
  AppendProbeFamilies(outcome, "health", families);
  CHECK(Find(families, "probe_failure_reason") == nullptr);
  CHECK(Find(families, "probe_ssl_earliest_cert_expiry") == nullptr);
  REQUIRE(Find(families, "probe_success"));
  CHECK(Find(families, "probe_success")->metric.at(0).gauge.value == 1);

  outcome.Fail("status_code", "HTTP status 503");
  outcome.Fail("body_regex", "a second reason does not replace the first");
  outcome.tls = TlsSession{"TLS 1.3", 1827514140};
  families.clear();
  AppendProbeFamilies(outcome, "health", families);
  const auto* reason = Find(families, "probe_failure_reason");
  REQUIRE(reason);
  REQUIRE(reason->metric.size() == 1);
  CHECK(reason->metric[0].label.at(0).value == "health");
  CHECK(reason->metric[0].label.at(1).name == "reason");
  CHECK(reason->metric[0].label.at(1).value == "status_code");
  CHECK(Find(families, "probe_success")->metric.at(0).gauge.value == 0);
  CHECK(Find(families, "probe_ssl_earliest_cert_expiry")->metric.at(0).gauge.value == 1827514140);
  CHECK(Find(families, "probe_tls_version_info")->metric.at(0).label.at(1).value == "TLS 1.3");
}

TEST_CASE("a probe of a closed port fails with connection_refused, not a collector error",
          "[probes]") {
  HttpProbeOptions http;
  http.name = "health";
  http.url = "http://127.0.0.1:1/healthz";  // port 1: nothing listens, refused at once
  HttpProbeCollector http_collector(http);
  TcpProbeOptions tcp;
  tcp.name = "db";
  tcp.address = "127.0.0.1:1";
  TcpProbeCollector tcp_collector(tcp);
  CHECK(http_collector.Summary() == "GET http://127.0.0.1:1/healthz: not probed yet");
  CollectContext context;
  context.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (Collector* collector : std::vector<Collector*>{&http_collector, &tcp_collector}) {
    const CollectResult result = collector->Collect(context);
    CHECK_FALSE(result.error);
    const auto* reason = Find(result.families, "probe_failure_reason");
    REQUIRE(reason);
    CHECK(reason->metric.at(0).label.at(1).value == "connection_refused");
  }
  CHECK_THAT(http_collector.Summary(),
             Catch::StartsWith("GET http://127.0.0.1:1/healthz: failing: connection_refused ("));
  CHECK_THAT(tcp_collector.Summary(),
             Catch::StartsWith("TCP 127.0.0.1:1: failing: connection_refused (connect to "
                               "127.0.0.1:1: "));
}

}  // namespace
}  // namespace sidecar

namespace sidecar {
namespace {

TEST_CASE("examples/probes.yaml is a valid configuration", "[config][probes]") {
  const ConfigLoad load = LoadConfigFile(SIDECAR_SOURCE_DIR "/examples/probes.yaml");
  for (const ConfigError& error : load.errors) UNSCOPED_INFO(error.ToString());
  CHECK(load.errors.empty());
  REQUIRE(load.config);
  CHECK(load.config->collectors.size() == 2);
}

}  // namespace
}  // namespace sidecar
