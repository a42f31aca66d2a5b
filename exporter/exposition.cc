#include "exporter/exposition.h"

#include "exporter/http_server.h"

namespace sidecar {

std::string ExpositionBuffers::Take() {
  std::string buffer;
  std::lock_guard lock(mutex_);
  buffer.swap(spare_);
  buffer.clear();
  // A little more than last time: expositions grow with the series they hold.
  buffer.reserve(last_size_ + last_size_ / 8);
  return buffer;
}

void ExpositionBuffers::Give(std::string buffer) {
  std::lock_guard lock(mutex_);
  last_size_ = buffer.size();
  // A buffer far bigger than what the exposition needs now is not worth its memory. Of the
  // spare and `buffer`, the larger is kept (an empty string still has a small capacity of its
  // own, so "no spare" is not capacity 0).
  if (buffer.capacity() > spare_.capacity() && buffer.capacity() <= 2 * last_size_ + 4096) {
    spare_.swap(buffer);
  }
}

Exposition::~Exposition() {
  if (buffers_) buffers_->Give(std::move(text_));
}

const std::string& Exposition::gzipped() const {
  std::call_once(gzip_once_, [this] { gzipped_ = Gzip(text_); });
  return gzipped_;
}

}  // namespace sidecar
