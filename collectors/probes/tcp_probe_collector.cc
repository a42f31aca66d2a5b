#include "collectors/probes/tcp_probe_collector.h"

#include <memory>

#include "collectors/probes/tcp_connection.h"

namespace sidecar {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The groups of `regex` in the first match in `line`, or empty when it does not match.
std::vector<std::string_view> Match(const RE2& regex, const std::string& line) {
  const int count = regex.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> pieces(static_cast<size_t>(count));
  std::vector<std::string_view> groups;
  if (!regex.Match(line, 0, line.size(), RE2::UNANCHORED, pieces.data(), count)) return groups;
  for (const re2::StringPiece& piece : pieces) {
    groups.emplace_back(piece.data() == nullptr ? std::string_view()
                                                : std::string_view(piece.data(), piece.size()));
  }
  return groups;
}

std::string Describe(const TcpProbeOptions& options) {
  return std::string(options.tls ? "TLS " : "TCP ") + options.address;
}

}  // namespace

std::string ExpandTemplate(std::string_view send_template, const RE2& regex,
                           const std::vector<std::string_view>& groups) {
  std::string out;
  while (!send_template.empty()) {
    const size_t dollar = send_template.find('$');
    if (dollar == std::string_view::npos) break;
    out.append(send_template.substr(0, dollar));
    send_template.remove_prefix(dollar + 1);
    if (send_template.starts_with('$')) {
      out.push_back('$');
      send_template.remove_prefix(1);
      continue;
    }
    // Go's extract(): a name of letters, digits and '_', optionally in braces.
    std::string_view rest = send_template;
    const bool brace = rest.starts_with('{');
    if (brace) rest.remove_prefix(1);
    size_t length = 0;
    while (length < rest.size() && IsNameChar(rest[length])) ++length;
    const std::string_view name = rest.substr(0, length);
    if (length == 0 || (brace && (length >= rest.size() || rest[length] != '}'))) {
      out.push_back('$');  // malformed: the "$" is text
      continue;
    }
    send_template = rest.substr(length + (brace ? 1 : 0));
    int number = 0;
    for (const char c : name) {
      if (c < '0' || c > '9' || number >= 100000000) {
        number = -1;
        break;
      }
      number = number * 10 + (c - '0');
    }
    if (name.size() > 1 && name[0] == '0') number = -1;
    if (number < 0) {
      const auto& named = regex.NamedCapturingGroups();
      const auto it = named.find(std::string(name));
      if (it != named.end()) number = it->second;
    }
    if (number >= 0 && static_cast<size_t>(number) < groups.size()) {
      out.append(groups[static_cast<size_t>(number)]);
    }
  }
  out.append(send_template);
  return out;
}

TcpProbeCollector::TcpProbeCollector(TcpProbeOptions options) : options_(std::move(options)) {}

std::string TcpProbeCollector::Summary() const { return history_.Describe(Describe(options_)); }

ProbeOutcome TcpProbeCollector::Probe(std::chrono::steady_clock::time_point deadline,
                                      std::stop_token stop) const {
  ProbeOutcome outcome;
  TcpConnection connection(deadline, std::move(stop));
  if (auto failure = connection.Connect(options_.address, options_.tls)) {
    outcome.Fail(failure->reason, failure->detail);
    return outcome;
  }
  outcome.tls = connection.tls_session();
  outcome.success = true;
  for (size_t i = 0; i < options_.query_response.size(); ++i) {
    const TcpProbeStep& step = options_.query_response[i];
    const std::string where = "query_response[" + std::to_string(i) + "]: ";
    std::string send = step.send;
    if (step.expect) {
      std::vector<std::string_view> groups;
      std::optional<ConnectionFailure> failure;
      std::optional<std::string> line;
      // Read lines until one matches, as blackbox_exporter does.
      while ((line = connection.ReadLine(failure))) {
        groups = Match(*step.expect, *line);
        if (!groups.empty()) break;
      }
      if (failure) {
        outcome.Fail(failure->reason, where + failure->detail);
        return outcome;
      }
      if (!line) {
        outcome.failed_due_to_regex = true;
        outcome.Fail("expect_regex", where + "the connection closed before a line matched \"" +
                                         step.expect->pattern() + "\"");
        return outcome;
      }
      send = ExpandTemplate(step.send, *step.expect, groups);
    }
    if (!send.empty()) {
      if (auto failure = connection.Send(send + "\n")) {
        outcome.Fail(failure->reason, where + failure->detail);
        return outcome;
      }
    }
  }
  return outcome;
}

CollectResult TcpProbeCollector::Collect(const CollectContext& context) {
  const auto start = std::chrono::steady_clock::now();
  ProbeOutcome outcome = Probe(std::min(context.deadline, start + options_.timeout), context.stop);
  outcome.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  history_.Record(outcome);
  CollectResult result;
  AppendProbeFamilies(outcome, options_.name, result.families);
  return result;
}

CollectorFactory DecodeTcpProbe(FieldDecoder& fields, const CollectorDefaults& defaults) {
  TcpProbeOptions options;
  options.name = defaults.name;
  options.address = fields.RequiredString("address");
  static const RE2 kAddress(R"((\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.\-]*):(\d{1,5}))");
  int port = 0;
  if (!options.address.empty() &&
      (!RE2::FullMatch(options.address, kAddress, nullptr, &port) || port < 1 || port > 65535)) {
    fields.Error("address", "invalid address \"" + options.address +
                                "\"; want host:port or [v6]:port, such as 127.0.0.1:6379");
  }
  if (fields.Has("tls")) {
    FieldDecoder tls = fields.Child("tls");
    options.tls = DecodeTlsOptions(tls);
  }
  for (FieldDecoder& step_fields : fields.ChildList("query_response")) {
    TcpProbeStep step;
    if (std::optional<std::string> expect = step_fields.OptionalString("expect")) {
      step.expect = CompileRegex(step_fields, "expect", *expect);
    }
    step.send = step_fields.String("send", "");
    if (!step_fields.Has("expect") && !step_fields.Has("send")) {
      step_fields.Error("", "a step needs \"expect\", \"send\" or both");
    }
    step_fields.RejectUnknownKeys();
    options.query_response.push_back(std::move(step));
  }
  options.timeout = fields.Duration("timeout", defaults.timeout);
  if (options.timeout.count() <= 0) fields.Error("timeout", "must be greater than 0");
  return [options] { return std::make_unique<TcpProbeCollector>(options); };
}

}  // namespace sidecar
