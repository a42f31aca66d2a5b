#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

namespace sidecar {

// Text buffers for expositions, reused from one scrape to the next: a large exposition is written
// into memory that is already mapped and big enough, instead of into a new buffer grown by
// doubling (each step a copy, and pages the allocator may keep after the free). One spare buffer
// is kept; buffers that come back while one is kept, or that are far bigger than the last
// exposition needed, are freed.
//
// Thread-safe.
class ExpositionBuffers {
 public:
  // An empty buffer with room for at least the last exposition's size.
  std::string Take();
  // Takes `buffer` back once the exposition written into it is no longer served.
  void Give(std::string buffer);

 private:
  std::mutex mutex_;
  std::string spare_;
  std::size_t last_size_ = 0;
};

// One serialised scrape, shared by the concurrent scrapes that joined it. The gzip encoding is
// made once, by the first scrape that asks for it. Its text buffer goes back to `buffers` (when
// given) once the last scrape that serves it lets it go.
//
// Thread-safe.
class Exposition {
 public:
  explicit Exposition(std::string text, std::shared_ptr<ExpositionBuffers> buffers = nullptr)
      : text_(std::move(text)), buffers_(std::move(buffers)) {}
  ~Exposition();
  Exposition(const Exposition&) = delete;
  Exposition& operator=(const Exposition&) = delete;

  const std::string& text() const { return text_; }
  const std::string& gzipped() const;

 private:
  std::string text_;
  std::shared_ptr<ExpositionBuffers> buffers_;
  mutable std::once_flag gzip_once_;
  mutable std::string gzipped_;
};

}  // namespace sidecar
