#include "collectors/probes/probe_options.h"

#include <fstream>

namespace sidecar {
namespace {

// Records an error unless `path` names a readable file.
std::string ReadableFile(FieldDecoder& fields, const std::string& key) {
  std::string path = fields.String(key, "");
  if (!path.empty() && !std::ifstream(path).good()) {
    fields.Error(key, "cannot read \"" + path + "\"");
  }
  return path;
}

}  // namespace

SharedRegex CompileRegex(FieldDecoder& fields, const std::string& key, const std::string& pattern,
                         const std::string& what) {
  RE2::Options options;
  options.set_log_errors(false);
  auto regex = std::make_shared<const RE2>(pattern, options);
  if (!regex->ok()) {
    fields.Error(key, what + (what.empty() ? "" : ": ") + "invalid regular expression \"" +
                          pattern + "\": " + regex->error());
    return nullptr;
  }
  return regex;
}

std::vector<SharedRegex> DecodeRegexList(FieldDecoder& fields, const std::string& key) {
  std::vector<SharedRegex> regexes;
  const std::vector<std::string> patterns = fields.StringList(key);
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (SharedRegex regex = CompileRegex(fields, key, patterns[i], "[" + std::to_string(i) + "]")) {
      regexes.push_back(std::move(regex));
    }
  }
  return regexes;
}

TlsOptions DecodeTlsOptions(FieldDecoder& tls) {
  TlsOptions options;
  options.ca_file = ReadableFile(tls, "ca_file");
  options.cert_file = ReadableFile(tls, "cert_file");
  options.key_file = ReadableFile(tls, "key_file");
  if (options.cert_file.empty() != options.key_file.empty()) {
    tls.Error(options.cert_file.empty() ? "key_file" : "cert_file",
              "cert_file and key_file go together: set both or neither");
  }
  options.server_name = tls.String("server_name", "");
  options.insecure_skip_verify = tls.Bool("insecure_skip_verify", false);
  tls.RejectUnknownKeys();
  return options;
}

}  // namespace sidecar
