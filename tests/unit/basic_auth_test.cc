#include "exporter/basic_auth.h"

#include <catch2/catch.hpp>

namespace sidecar {
namespace {

// htpasswd -nbBC 4 alice 'pa:ss w0rd' (cost 4 keeps the test fast; the colon is part of it).
constexpr char kAliceHash[] = "$2y$04$DUNfWMiNWd1BMZvc3jSxL.tzcmzIY1Jzz9vspty9EqQVplfVUhZQ2";

std::string Basic(const std::string& credentials) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned int buffer = 0;
  int bits = 0;
  for (const unsigned char c : credentials) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 63]);
  while (out.size() % 4 != 0) out.push_back('=');
  return "Basic " + out;
}

TEST_CASE("base64 decoding", "[basic_auth]") {
  std::string out;
  CHECK(DecodeBase64("YWxpY2U6c2VjcmV0", out));
  CHECK(out == "alice:secret");
  CHECK(DecodeBase64("YQ==", out));
  CHECK(out == "a");
  CHECK(DecodeBase64("YQ", out));
  CHECK(out == "a");
  CHECK_FALSE(DecodeBase64("Y", out));
  CHECK_FALSE(DecodeBase64("YQ==YQ", out));
  CHECK_FALSE(DecodeBase64("YW*p", out));
}

TEST_CASE("basic auth against a bcrypt hash from htpasswd", "[basic_auth]") {
  const BasicAuthenticator auth(
      std::vector<std::pair<std::string, std::string>>{{"alice", kAliceHash}});
  CHECK(auth.Check(Basic("alice:pa:ss w0rd")));
  CHECK(auth.Check(Basic("alice:pa:ss w0rd")));                       // remembered: same answer
  CHECK(auth.Check("basic " + Basic("alice:pa:ss w0rd").substr(6)));  // scheme is case-blind
  CHECK_FALSE(auth.Check(Basic("alice:pa:ss w0rd ")));
  CHECK_FALSE(auth.Check(Basic("alice:")));
  CHECK_FALSE(auth.Check(Basic("bob:pa:ss w0rd")));
  CHECK_FALSE(auth.Check(Basic("alicepa:ss w0rd")));
  CHECK_FALSE(auth.Check(Basic("alice")));
  CHECK_FALSE(auth.Check("Bearer abc"));
  CHECK_FALSE(auth.Check("Basic !!!"));
  CHECK_FALSE(auth.Check(""));
  CHECK_FALSE(auth.Check(Basic(std::string("alice:pa:ss w0rd\0x", 18))));
}

}  // namespace
}  // namespace sidecar
