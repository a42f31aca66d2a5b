#pragma once

#include <mutex>
#include <string>

namespace sidecar {

// One serialised scrape, shared by the concurrent scrapes that joined it. The gzip encoding is
// made once, by the first scrape that asks for it.
//
// Thread-safe.
class Exposition {
 public:
  explicit Exposition(std::string text) : text_(std::move(text)) {}

  const std::string& text() const { return text_; }
  const std::string& gzipped() const;

 private:
  const std::string text_;
  mutable std::once_flag gzip_once_;
  mutable std::string gzipped_;
};

}  // namespace sidecar
