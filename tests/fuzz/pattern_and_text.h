#pragma once

// The input of the fuzz targets that check a matcher of ours against RE2 itself: a pattern, "\n",
// then a text (which may hold more newlines, as a multiline record does).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "re2/re2.h"

namespace sidecar::fuzz {

struct PatternAndText {
  std::string_view pattern;
  std::string_view text;
  // The pattern as log_metrics' `match` and the regex format compile it: bytes (Latin-1).
  std::unique_ptr<RE2> re;
};

// Nothing when the input holds no newline or RE2 refuses the pattern.
inline std::optional<PatternAndText> ReadPatternAndText(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return std::nullopt;
  PatternAndText read{input.substr(0, newline), input.substr(newline + 1), nullptr};
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  read.re =
      std::make_unique<RE2>(re2::StringPiece(read.pattern.data(), read.pattern.size()), options);
  if (!read.re->ok()) return std::nullopt;
  return read;
}

}  // namespace sidecar::fuzz
