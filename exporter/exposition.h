#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

namespace sidecar {

// Text buffers for expositions, reused from one scrape to the next: a large exposition is written
// into memory that is already mapped and big enough, instead of into a new buffer grown by
// doubling (each step a copy, and pages the allocator may keep after the free).
//
// They also bound how many expositions are resident at once, whatever the number of scrapers:
// Take() hands out the spare buffer, or a new one only when no buffer is out; while one is out
// (an exposition still being sent), it waits for it to come back, up to `release_wait`. Only a
// reply that takes longer than that to send (a client reading slowly: the sending worker holds
// its exposition until the last byte is written) makes it allocate another, so that a slow
// reader costs memory but never holds other scrapes back for long. One spare buffer is kept;
// buffers that come back while one is kept, or that are far bigger than the last exposition
// needed, are freed.
//
// Thread-safe.
class ExpositionBuffers {
 public:
  // How long Take() waits for a buffer being sent to come back by default: sending a few MB to
  // a client on the same network takes milliseconds.
  static constexpr std::chrono::milliseconds kReleaseWait{1000};

  explicit ExpositionBuffers(std::chrono::milliseconds release_wait = kReleaseWait)
      : release_wait_(release_wait) {}

  // An empty buffer with room for at least the last exposition's size: the spare one, a new
  // one when none is out, or else the first to come back within `release_wait` (never waiting
  // past `deadline`), or a new one after all.
  std::string Take(std::chrono::steady_clock::time_point deadline);
  // Takes `buffer` back once the exposition written into it is no longer served.
  void Give(std::string buffer);
  // The same for gzip encodings, of which one spare is kept too: an encoding's pages are faulted
  // in once, not at every gzip scrape. They are never waited for (a tenth of the text's size).
  std::string TakeGzip();
  void GiveGzip(std::string buffer);

  // Buffers handed out and not given back, and callers of Take() waiting for one (for tests).
  std::size_t Out() const;
  std::size_t Waiting() const;

 private:
  bool HasSpare() const;

  const std::chrono::milliseconds release_wait_;
  mutable std::mutex mutex_;
  std::condition_variable returned_;
  std::string spare_;
  std::string spare_gzip_;
  std::size_t last_size_ = 0;
  std::size_t out_ = 0;
  std::size_t waiting_ = 0;
};

// One serialised scrape, shared by the concurrent scrapes that joined it. The gzip encoding is
// made once, by the first scrape that asks for it. Its text and gzip buffers go back to
// `buffers` (when given) once the last scrape that serves it lets it go.
//
// Thread-safe.
class Exposition {
 public:
  explicit Exposition(std::string text, std::shared_ptr<ExpositionBuffers> buffers = nullptr)
      : text_(std::move(text)), buffers_(std::move(buffers)) {}
  ~Exposition();
  Exposition(const Exposition&) = delete;
  Exposition& operator=(const Exposition&) = delete;

  // An exposition written by `write(std::string& text)` into a buffer taken from `buffers` (see
  // ExpositionBuffers::Take), which gets it back when the exposition goes, or at once if `write`
  // throws.
  template <typename Writer>
  static std::shared_ptr<const Exposition> Write(const std::shared_ptr<ExpositionBuffers>& buffers,
                                                 std::chrono::steady_clock::time_point deadline,
                                                 Writer&& write) {
    auto exposition = std::make_shared<Exposition>(buffers->Take(deadline), buffers);
    write(exposition->text_);
    return exposition;
  }

  const std::string& text() const { return text_; }
  const std::string& gzipped() const;

 private:
  std::string text_;
  std::shared_ptr<ExpositionBuffers> buffers_;
  mutable std::once_flag gzip_once_;
  mutable std::string gzipped_;
};

}  // namespace sidecar
