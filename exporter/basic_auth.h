#pragma once

#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sidecar {

// HTTP basic authentication against the web config's basic_auth_users (user -> bcrypt hash),
// checked with libxcrypt's crypt_r, which reads $2a$, $2b$ and $2y$ hashes.
//
// bcrypt is deliberately slow (tens of milliseconds at cost 10), so a scraper sending the same
// right password every 15 s would pay that on each scrape: successful checks are remembered as a
// SHA-256 digest of user, password and hash (never the password), at most kMaxRemembered of them.
// Failures are never remembered. Thread-safe.
class BasicAuthenticator {
 public:
  explicit BasicAuthenticator(std::vector<std::pair<std::string, std::string>> users);

  // True when `authorization` (the Authorization header's value) is "Basic <base64 user:pass>"
  // with a known user and the right password.
  bool Check(std::string_view authorization) const;

  static constexpr size_t kMaxRemembered = 64;

 private:
  std::vector<std::pair<std::string, std::string>> users_;
  mutable std::mutex mutex_;
  mutable std::set<std::string> remembered_;
};

// Decodes standard base64 (with or without padding); nullopt-like empty + false on bad input.
bool DecodeBase64(std::string_view text, std::string& out);

}  // namespace sidecar
