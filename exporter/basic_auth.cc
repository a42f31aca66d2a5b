#include "exporter/basic_auth.h"

#include <crypt.h>

#include <memory>

#include "exporter/sha256.h"

namespace sidecar {
namespace {

// A valid bcrypt hash of a random password: unknown users are checked against it so that they
// take as long as known ones and the timing does not tell which user names exist.
constexpr char kDummyHash[] = "$2y$10$OX2lznrcdEnZgGdlBi2DNelpkPu.Bh96YlX60zfxipOMrdCaGUEPS";

std::string Sha256Bytes(std::string_view data) {
  const auto digest = Sha256(data);
  return std::string(digest.begin(), digest.end());
}

bool BcryptMatches(const std::string& password, const std::string& hash) {
  // crypt_data is 32 KiB: on the heap, not on a worker's 100 KiB stack.
  auto data = std::make_unique<crypt_data>();
  const char* result = crypt_r(password.c_str(), hash.c_str(), data.get());
  if (result == nullptr || result[0] == '*') return false;
  return ConstantTimeEquals(result, hash);
}

}  // namespace

bool DecodeBase64(std::string_view text, std::string& out) {
  out.clear();
  unsigned int buffer = 0;
  int bits = 0;
  size_t padding = 0;
  for (const char c : text) {
    int value = -1;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    if (c >= '0' && c <= '9') value = c - '0' + 52;
    if (c == '+') value = 62;
    if (c == '/') value = 63;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (value < 0 || padding > 0) return false;  // bad character, or data after padding
    buffer = (buffer << 6) | static_cast<unsigned int>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return padding <= 2 && bits < 6;
}

BasicAuthenticator::BasicAuthenticator(std::vector<std::pair<std::string, std::string>> users)
    : users_(std::move(users)) {}

bool BasicAuthenticator::Check(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Basic ";
  if (authorization.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return false;
    }
  }
  authorization.remove_prefix(kScheme.size());
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  while (!authorization.empty() && authorization.back() == ' ') authorization.remove_suffix(1);
  std::string credentials;
  if (authorization.size() > 1024 || !DecodeBase64(authorization, credentials)) return false;
  const size_t colon = credentials.find(':');
  if (colon == std::string::npos) return false;
  const std::string user = credentials.substr(0, colon);
  const std::string password = credentials.substr(colon + 1);
  if (password.find('\0') != std::string::npos) return false;  // crypt_r would stop there

  const std::string* hash = nullptr;
  for (const auto& [name, bcrypt] : users_) {
    if (name == user) hash = &bcrypt;
  }
  if (hash == nullptr) {
    BcryptMatches(password, kDummyHash);
    return false;
  }
  const std::string key = Sha256Bytes(user + '\0' + password + '\0' + *hash);
  {
    std::lock_guard lock(mutex_);
    if (remembered_.contains(key)) return true;
  }
  if (!BcryptMatches(password, *hash)) return false;
  std::lock_guard lock(mutex_);
  if (remembered_.size() >= kMaxRemembered) remembered_.clear();
  remembered_.insert(key);
  return true;
}

}  // namespace sidecar
