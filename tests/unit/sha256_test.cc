#include "exporter/sha256.h"

#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <random>

namespace sidecar {
namespace {

std::string Hex(const std::array<std::uint8_t, 32>& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (const std::uint8_t byte : digest) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xf];
  }
  return hex;
}

TEST_CASE("sha256: FIPS 180-4 examples", "[sha256]") {
  CHECK(Hex(Sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Hex(Sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Hex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(Hex(Sha256(std::string(1000000, 'a'))) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: the same digests as OpenSSL's for every length around the block size",
          "[sha256]") {
  std::mt19937 random(12);
  for (std::size_t length = 0; length <= 300; ++length) {
    std::string data(length, '\0');
    for (char& c : data) c = static_cast<char>(random());
    std::array<std::uint8_t, 32> expected{};
    unsigned int size = 0;
    EVP_Digest(data.data(), data.size(), expected.data(), &size, EVP_sha256(), nullptr);
    INFO("length " << length);
    CHECK(Sha256(data) == expected);
  }
}

TEST_CASE("sha256: constant-time comparison", "[sha256]") {
  CHECK(ConstantTimeEquals("", ""));
  CHECK(ConstantTimeEquals("$2y$10$abc", "$2y$10$abc"));
  CHECK_FALSE(ConstantTimeEquals("$2y$10$abc", "$2y$10$abd"));
  CHECK_FALSE(ConstantTimeEquals("xbc", "abc"));
  CHECK_FALSE(ConstantTimeEquals("abc", "abcd"));
  CHECK_FALSE(ConstantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

}  // namespace
}  // namespace sidecar
