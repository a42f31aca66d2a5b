#include "exporter/exposition.h"

#include <algorithm>

#include "exporter/http_server.h"

namespace sidecar {

bool ExpositionBuffers::HasSpare() const {
  // An empty string still has a small capacity of its own (SSO): "no spare" is not capacity 0.
  return spare_.capacity() > std::string().capacity();
}

std::string ExpositionBuffers::Take(std::chrono::steady_clock::time_point deadline) {
  std::string buffer;
  std::unique_lock lock(mutex_);
  if (!HasSpare() && out_ > 0) {
    ++waiting_;
    const auto until = std::min(deadline, std::chrono::steady_clock::now() + release_wait_);
    returned_.wait_until(lock, until, [this] { return HasSpare() || out_ == 0; });
    --waiting_;
  }
  buffer.swap(spare_);
  ++out_;
  const std::size_t size = last_size_;
  lock.unlock();
  buffer.clear();
  // A little more than last time: expositions grow with the series they hold. A spare too small
  // for that is let go first: reserving on it would double its capacity (libstdc++'s growth),
  // and a buffer that large would not be kept.
  const std::size_t wanted = size + size / 8;
  if (buffer.capacity() < wanted) buffer = std::string();
  buffer.reserve(wanted);
  return buffer;
}

void ExpositionBuffers::Give(std::string buffer) {
  {
    std::lock_guard lock(mutex_);
    --out_;
    last_size_ = buffer.size();
    // A buffer far bigger than what the exposition needs now is not worth its memory. Of the
    // spare and `buffer`, the larger is kept.
    if (buffer.capacity() > spare_.capacity() && buffer.capacity() <= 2 * last_size_ + 4096) {
      spare_.swap(buffer);
    }
  }
  returned_.notify_all();
  // The one not kept is freed here, outside the lock.
}

std::string ExpositionBuffers::TakeGzip() {
  std::string buffer;
  std::lock_guard lock(mutex_);
  buffer.swap(spare_gzip_);
  return buffer;
}

void ExpositionBuffers::GiveGzip(std::string buffer) {
  std::lock_guard lock(mutex_);
  // Never more than the text it encodes (incompressible input is the worst case).
  if (buffer.capacity() > spare_gzip_.capacity() && buffer.capacity() <= last_size_ + 4096) {
    spare_gzip_.swap(buffer);
  }
}

std::size_t ExpositionBuffers::Out() const {
  std::lock_guard lock(mutex_);
  return out_;
}

std::size_t ExpositionBuffers::Waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_;
}

Exposition::~Exposition() {
  if (!buffers_) return;
  buffers_->Give(std::move(text_));
  buffers_->GiveGzip(std::move(gzipped_));
}

const std::string& Exposition::gzipped() const {
  std::call_once(gzip_once_, [this] {
    if (!buffers_) {
      gzipped_ = Gzip(text_);
      return;
    }
    gzipped_ = buffers_->TakeGzip();
    GzipInto(text_, gzipped_);
  });
  return gzipped_;
}

}  // namespace sidecar
