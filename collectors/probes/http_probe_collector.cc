#include "collectors/probes/http_probe_collector.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <memory>
#include <sstream>

#include "collectors/core/metric_family_builder.h"

namespace sidecar {
namespace {

std::string Base64(std::string_view text) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned value = 0;
  int bits = 0;
  for (const unsigned char c : text) {
    value = (value << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(value >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(value << (6 - bits)) & 0x3F]);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

// A secret file's content without surrounding white space, as Prometheus' HTTP client reads it.
std::optional<std::string> ReadSecret(const std::string& path) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::ostringstream content;
  content << file.rdbuf();
  std::string secret = content.str();
  const size_t first = secret.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return std::string();
  secret.erase(0, first);
  secret.erase(secret.find_last_not_of(" \t\r\n") + 1);
  return secret;
}

std::string StatusCodes(const std::vector<long>& codes) {
  if (codes.empty()) return "2xx";
  std::string text;
  for (const long code : codes) text += (text.empty() ? "" : ", ") + std::to_string(code);
  return text;
}

// blackbox_exporter's matchRegularExpressionsOnHeaders: a failure message, or empty.
std::string CheckHeaders(const HttpResponse& response, const std::vector<HeaderMatch>& matches,
                         bool fail_on_match) {
  for (const HeaderMatch& match : matches) {
    bool present = false;
    bool any_matched = false;
    for (const auto& [name, value] : response.headers) {
      if (name != match.header) continue;
      present = true;
      any_matched = any_matched || RE2::PartialMatch(value, *match.regexp);
    }
    if (!present) {
      if (match.allow_missing) continue;
      return "header " + match.header + " is missing";
    }
    if (fail_on_match && any_matched) {
      return "header " + match.header + " matches \"" + match.regexp->pattern() + "\"";
    }
    if (!fail_on_match && !any_matched) {
      return "header " + match.header + " does not match \"" + match.regexp->pattern() + "\"";
    }
  }
  return {};
}

// The version of a response as Go's Response.Proto writes it, which blackbox_exporter's
// valid_http_versions compares with.
std::string GoProto(double http_version) {
  if (http_version == 1.0) return "HTTP/1.0";
  if (http_version == 1.1) return "HTTP/1.1";
  if (http_version == 2) return "HTTP/2.0";
  if (http_version == 3) return "HTTP/3.0";
  return "HTTP/" + std::to_string(http_version);
}

std::string Describe(const HttpProbeOptions& options) {
  std::string text = options.method + " " + options.url;
  if (options.unix_socket) text += " over " + *options.unix_socket;
  return text;
}

}  // namespace

HttpProbeCollector::HttpProbeCollector(HttpProbeOptions options) : options_(std::move(options)) {}

std::string HttpProbeCollector::Summary() const { return history_.Describe(Describe(options_)); }

void HttpProbeCollector::Judge(const HttpResponse& response, ProbeOutcome& outcome) const {
  const std::vector<long>& valid = options_.valid_status_codes;
  const bool status_ok =
      valid.empty() ? response.status >= 200 && response.status < 300
                    : std::find(valid.begin(), valid.end(), response.status) != valid.end();
  if (!status_ok) {
    outcome.Fail("status_code",
                 "HTTP status " + std::to_string(response.status) + ", want " + StatusCodes(valid));
    return;
  }
  std::string failure = CheckHeaders(response, options_.fail_if_header_matches, true);
  if (failure.empty()) {
    failure = CheckHeaders(response, options_.fail_if_header_not_matches, false);
  }
  if (!failure.empty()) {
    outcome.failed_due_to_regex = true;
    outcome.Fail("header_regex", failure);
    return;
  }
  for (const SharedRegex& regex : options_.fail_if_body_matches) {
    if (RE2::PartialMatch(response.body, *regex)) {
      outcome.failed_due_to_regex = true;
      outcome.Fail("body_regex", "body matches \"" + regex->pattern() + "\"");
      return;
    }
  }
  for (const SharedRegex& regex : options_.fail_if_body_not_matches) {
    if (!RE2::PartialMatch(response.body, *regex)) {
      outcome.failed_due_to_regex = true;
      outcome.Fail("body_regex", "body does not match \"" + regex->pattern() + "\"");
      return;
    }
  }
  const std::vector<std::string>& versions = options_.valid_http_versions;
  if (const std::string proto = GoProto(response.http_version);
      !versions.empty() && std::find(versions.begin(), versions.end(), proto) == versions.end()) {
    outcome.Fail("http_version", "the response came in " + proto);
    return;
  }
  if (response.final_https && options_.fail_if_ssl) {
    outcome.Fail("fail_if_ssl", "the final request went over TLS (fail_if_ssl)");
  } else if (!response.final_https && options_.fail_if_not_ssl) {
    outcome.Fail("fail_if_not_ssl", "the final request did not go over TLS (fail_if_not_ssl)");
  }
}

CollectResult HttpProbeCollector::Collect(const CollectContext& context) {
  const auto start = std::chrono::steady_clock::now();
  HttpRequest request;
  request.url = options_.url;
  request.unix_socket = options_.unix_socket;
  request.headers = options_.headers;
  request.deadline = std::min(context.deadline, start + options_.timeout);
  request.max_body_bytes = options_.max_response_bytes;
  request.stop = context.stop;
  request.method = options_.method;
  request.body = options_.body;
  request.follow_redirects = options_.follow_redirects;
  request.tls = options_.tls;
  request.fresh_connection = true;
  request.proxy = options_.proxy_url;
  request.keep_body =
      !options_.fail_if_body_matches.empty() || !options_.fail_if_body_not_matches.empty();

  ProbeOutcome outcome;
  outcome.success = true;
  HttpResponse response;
  std::optional<std::string> secret;
  const std::string& secret_file = options_.bearer_token_file.empty()
                                       ? options_.basic_auth_password_file
                                       : options_.bearer_token_file;
  if (!secret_file.empty() && !(secret = ReadSecret(secret_file))) {
    outcome.Fail("credentials", "cannot read " + secret_file);
  } else {
    if (!options_.bearer_token_file.empty()) {
      request.headers.push_back("Authorization: Bearer " + *secret);
    } else if (!options_.basic_auth_username.empty()) {
      request.headers.push_back("Authorization: Basic " +
                                Base64(options_.basic_auth_username + ":" + secret.value_or("")));
    }
    response = client_.Send(request);
    if (!response.failure_reason.empty()) {
      outcome.Fail(response.failure_reason, response.error);
    } else {
      Judge(response, outcome);
    }
    if (response.status > 0) outcome.tls = response.tls;
  }
  outcome.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  history_.Record(outcome);

  CollectResult result;
  AppendProbeFamilies(outcome, options_.name, result.families);
  const LabelPairs base = {{"collector", options_.name}};
  using prometheus::MetricType;
  const auto gauge = [&](std::string name, std::string help, double value) {
    result.families.push_back(
        MetricFamilyBuilder(std::move(name), std::move(help), MetricType::Gauge, base)
            .Add(value)
            .Build());
  };
  gauge("probe_http_status_code", "HTTP status code of the probe's final response; 0 without one.",
        static_cast<double>(response.status));
  gauge("probe_http_content_length",
        "Content-Length of the probe's final response; -1 when it had none, 0 without a response.",
        static_cast<double>(response.content_length));
  gauge("probe_http_uncompressed_body_length",
        "Bytes of the body of the probe's final response, after content decoding.",
        static_cast<double>(response.body_bytes));
  gauge("probe_http_redirects", "Redirects the probe followed.",
        static_cast<double>(response.redirects));
  gauge("probe_http_ssl", "Whether the probe's final request went over TLS (1) or not (0).",
        response.final_https && response.status > 0 ? 1 : 0);
  gauge("probe_http_version", "HTTP version of the probe's final response; 0 without one.",
        response.http_version);
  MetricFamilyBuilder phases("probe_http_duration_seconds",
                             "Duration of the probe's request by phase, summed over redirects, in "
                             "seconds (tls includes connect, as in blackbox_exporter).",
                             MetricType::Gauge, base);
  phases.Add(response.timings.resolve, {{"phase", "resolve"}})
      .Add(response.timings.connect, {{"phase", "connect"}})
      .Add(response.timings.tls, {{"phase", "tls"}})
      .Add(response.timings.processing, {{"phase", "processing"}})
      .Add(response.timings.transfer, {{"phase", "transfer"}});
  result.families.push_back(phases.Build());
  if (response.last_modified) {
    gauge("probe_http_last_modified_timestamp_seconds",
          "Last-Modified header of the probe's final response, in Unix seconds.",
          static_cast<double>(*response.last_modified));
  }
  return result;
}

namespace {

std::vector<HeaderMatch> DecodeHeaderMatches(FieldDecoder& fields, const std::string& key) {
  std::vector<HeaderMatch> matches;
  for (FieldDecoder& match_fields : fields.ChildList(key)) {
    HeaderMatch match;
    match.header = match_fields.RequiredString("header");
    std::transform(match.header.begin(), match.header.end(), match.header.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string pattern = match_fields.RequiredString("regexp");
    match.regexp = CompileRegex(match_fields, "regexp", pattern);
    match.allow_missing = match_fields.Bool("allow_missing", false);
    match_fields.RejectUnknownKeys();
    if (match.regexp) matches.push_back(std::move(match));
  }
  return matches;
}

std::string ReadableFileField(FieldDecoder& fields, const std::string& key, bool required) {
  std::string path = required ? fields.RequiredString(key) : fields.String(key, "");
  if (!path.empty() && !std::ifstream(path).good()) {
    fields.Error(key, "cannot read \"" + path + "\"");
  }
  return path;
}

}  // namespace

CollectorFactory DecodeHttpProbe(FieldDecoder& fields, const CollectorDefaults& defaults) {
  HttpProbeOptions options;
  options.name = defaults.name;
  if (!fields.Has("url")) fields.Error("url", "missing required field \"url\"");
  options.url = fields.Url("url", "");
  options.unix_socket = fields.OptionalString("unix_socket");
  options.method =
      fields.Enum("method", "GET", {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"});
  static const RE2 kHeaderName(R"([!#$%&'*+\-.^_`|~0-9A-Za-z]+)");
  for (const auto& [name, value] : fields.StringMap("headers", /*label_names=*/false)) {
    if (!RE2::FullMatch(name, kHeaderName)) {
      fields.Error("headers", "invalid header name \"" + name + "\"");
    } else if (value.find_first_of("\r\n") != std::string::npos) {
      fields.Error("headers", "the value of header " + name + " spans lines");
    } else {
      options.headers.push_back(name + ": " + value);
    }
  }
  options.body = fields.String("body", "");
  const std::vector<std::string> codes = fields.StringList("valid_status_codes");
  for (size_t i = 0; i < codes.size(); ++i) {
    long code = 0;
    const auto [end, ec] =
        std::from_chars(codes[i].data(), codes[i].data() + codes[i].size(), code);
    if (ec != std::errc() || end != codes[i].data() + codes[i].size() || code < 100 || code > 599) {
      fields.Error("valid_status_codes", "[" + std::to_string(i) + "]: \"" + codes[i] +
                                             "\" is not an HTTP status code (100 to 599)");
      continue;
    }
    options.valid_status_codes.push_back(code);
  }
  options.follow_redirects = fields.Bool("follow_redirects", true);
  options.valid_http_versions = fields.StringList("valid_http_versions");
  for (size_t i = 0; i < options.valid_http_versions.size(); ++i) {
    const std::string& version = options.valid_http_versions[i];
    if (version != "HTTP/1.0" && version != "HTTP/1.1" && version != "HTTP/2.0" &&
        version != "HTTP/3.0") {
      fields.Error("valid_http_versions",
                   "[" + std::to_string(i) + "]: \"" + version +
                       "\" is none of HTTP/1.0, HTTP/1.1, HTTP/2.0, HTTP/3.0 (Go's spelling, "
                       "which blackbox_exporter compares with)");
    }
  }
  options.fail_if_ssl = fields.Bool("fail_if_ssl", false);
  options.fail_if_not_ssl = fields.Bool("fail_if_not_ssl", false);
  if (options.fail_if_ssl && options.fail_if_not_ssl) {
    fields.Error("fail_if_not_ssl", "fail_if_ssl and fail_if_not_ssl together fail every probe");
  }
  options.proxy_url = fields.String("proxy_url", "");
  static const RE2 kProxyUrl(R"((https?|socks5h?)://[^/?#\s]+/?)");
  if (!options.proxy_url.empty() && !RE2::FullMatch(options.proxy_url, kProxyUrl)) {
    fields.Error("proxy_url", "\"" + options.proxy_url +
                                  "\" is not a proxy URL such as http://127.0.0.1:3128 (schemes "
                                  "http, https, socks5, socks5h)");
  }
  options.fail_if_body_matches = DecodeRegexList(fields, "fail_if_body_matches_regexp");
  options.fail_if_body_not_matches = DecodeRegexList(fields, "fail_if_body_not_matches_regexp");
  options.fail_if_header_matches = DecodeHeaderMatches(fields, "fail_if_header_matches");
  options.fail_if_header_not_matches = DecodeHeaderMatches(fields, "fail_if_header_not_matches");
  FieldDecoder tls = fields.Child("tls");
  options.tls = DecodeTlsOptions(tls);
  if (fields.Has("basic_auth")) {
    FieldDecoder basic_auth = fields.Child("basic_auth");
    options.basic_auth_username = basic_auth.RequiredString("username");
    options.basic_auth_password_file =
        ReadableFileField(basic_auth, "password_file", /*required=*/true);
    basic_auth.RejectUnknownKeys();
  }
  options.bearer_token_file = ReadableFileField(fields, "bearer_token_file", false);
  if (!options.bearer_token_file.empty() && fields.Has("basic_auth")) {
    fields.Error("bearer_token_file", "use basic_auth or bearer_token_file, not both");
  }
  options.timeout = fields.Duration("timeout", defaults.timeout);
  if (options.timeout.count() <= 0) fields.Error("timeout", "must be greater than 0");
  options.max_response_bytes =
      fields.Unsigned("max_response_bytes", options.max_response_bytes, 1024, 1ULL << 30);
  return [options] { return std::make_unique<HttpProbeCollector>(options); };
}

}  // namespace sidecar
