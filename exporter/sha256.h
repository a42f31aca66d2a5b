#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace sidecar {

// SHA-256 (FIPS 180-4) of `data`. Plain code rather than OpenSSL's, so that the basic-auth cache
// (its one user) needs no TLS library: the image's lean binary maps none.
std::array<std::uint8_t, 32> Sha256(std::string_view data);

// Whether a and b are equal, in a time that depends on their sizes only (not on where they
// differ), as CRYPTO_memcmp.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace sidecar
