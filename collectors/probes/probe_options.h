#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/core/config_decoder.h"
#include "collectors/http/tls_options.h"
#include "re2/re2.h"

namespace sidecar {

// A compiled RE2, shared by the copies of a collector's options (RE2 is immutable and safe to use
// from several threads).
using SharedRegex = std::shared_ptr<const RE2>;

// Compiles `pattern` (unanchored, as Go's regexp.MatchString uses it); records an error at `key`
// (with `what` naming the item, e.g. "[2]") and returns null when it does not compile.
SharedRegex CompileRegex(FieldDecoder& fields, const std::string& key, const std::string& pattern,
                         const std::string& what = "");
// Each string of the list at `key`, compiled.
std::vector<SharedRegex> DecodeRegexList(FieldDecoder& fields, const std::string& key);

// The `tls` mapping of a probe (blackbox_exporter's tls_config): ca_file, cert_file, key_file,
// server_name, insecure_skip_verify. Files must be readable at load time.
TlsOptions DecodeTlsOptions(FieldDecoder& tls);

}  // namespace sidecar
