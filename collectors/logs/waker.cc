#include "collectors/logs/waker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace sidecar {
namespace {

bool HasWildcard(std::string_view text) {
  return text.find_first_of("*?[") != std::string_view::npos;
}

}  // namespace

IntervalWaker::IntervalWaker(std::chrono::milliseconds interval) : interval_(interval) {
  if (interval_ <= std::chrono::milliseconds::zero()) {
    throw std::invalid_argument("IntervalWaker: interval must be positive");
  }
}

bool IntervalWaker::Wait(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  // Nothing ever notifies cv_ but the stop_token, so the predicate only has to report stop.
  cv_.wait_for(lock, stop, interval_, [] { return false; });
  return !stop.stop_requested();
}

InotifyWaker::InotifyWaker(const std::vector<std::string>& paths,
                           std::chrono::milliseconds fallback_interval,
                           std::chrono::milliseconds min_interval)
    : fallback_interval_(fallback_interval), min_interval_(min_interval) {
  if (fallback_interval_ <= std::chrono::milliseconds::zero() ||
      min_interval_ < std::chrono::milliseconds::zero()) {
    throw std::invalid_argument("InotifyWaker: intervals must be positive");
  }
  for (const std::string& path : paths) {
    std::string directory = std::filesystem::path(path).parent_path().string();
    if (directory.empty()) directory = ".";
    // A wildcard in the directory part cannot be watched; the fallback interval covers it.
    if (HasWildcard(directory)) continue;
    if (std::find(directories_.begin(), directories_.end(), directory) == directories_.end()) {
      directories_.push_back(std::move(directory));
    }
  }
  watched_.assign(directories_.size(), false);
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "inotify_init1");
  }
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) {
    const int err = errno;
    ::close(inotify_fd_);
    throw std::system_error(err, std::generic_category(), "eventfd");
  }
  AddMissingWatches();
}

InotifyWaker::~InotifyWaker() {
  ::close(event_fd_);
  ::close(inotify_fd_);
}

void InotifyWaker::AddMissingWatches() {
  constexpr std::uint32_t kMask = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                  IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
  for (std::size_t i = 0; i < directories_.size(); ++i) {
    if (!watched_[i]) {
      watched_[i] = ::inotify_add_watch(inotify_fd_, directories_[i].c_str(), kMask) >= 0;
    }
  }
}

InotifyWaker::Events InotifyWaker::DrainEvents() {
  alignas(inotify_event) char buffer[16 * 1024];
  Events events;
  for (;;) {
    const ssize_t n = ::read(inotify_fd_, buffer, sizeof buffer);
    if (n <= 0) break;
    events.any = true;
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      // A watched directory that went away (volume remounted) must be watched again when back.
      if (event->mask & IN_IGNORED) {
        std::fill(watched_.begin(), watched_.end(), false);
      }
      // A file appeared, moved or went: a new generation of a log may be at its path, and it may
      // be rotated away again within milliseconds.
      if (event->mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_Q_OVERFLOW)) {
        events.names_changed = true;
      }
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  return events;
}

bool InotifyWaker::Wait(std::stop_token stop) {
  if (stop.stop_requested()) return false;
  std::uint64_t ignored = 0;
  // A stop requested by an earlier Wait() left the eventfd readable; reset it.
  while (::read(event_fd_, &ignored, sizeof ignored) > 0) {
  }
  std::stop_callback on_stop(stop, [this] {
    const std::uint64_t one = 1;
    // Failure only means the counter is already non-zero, which wakes poll(2) just as well.
    [[maybe_unused]] const ssize_t n = ::write(event_fd_, &one, sizeof one);
  });

  const auto now = std::chrono::steady_clock::now();
  // Coalesce bursts: never wake sooner than min_interval after the previous wake.
  const auto earliest = last_wake_ + min_interval_;
  const auto deadline = now + fallback_interval_;
  bool event_seen = false;
  bool names_changed = false;
  for (;;) {
    AddMissingWatches();
    auto current = std::chrono::steady_clock::now();
    if (current >= deadline || (event_seen && current >= earliest) || names_changed) break;
    const auto until = event_seen ? earliest : deadline;
    const auto timeout = std::chrono::ceil<std::chrono::milliseconds>(until - current).count();
    // Once an event is seen only stop can cut the wait short: watching inotify as well would spin
    // on the events of a busy writer until `earliest`.
    pollfd fds[2] = {{event_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
    const nfds_t count = event_seen ? 1 : 2;
    const int ready = ::poll(fds, count, static_cast<int>(std::min<long long>(timeout, 60'000)));
    if (stop.stop_requested()) return false;
    if (ready < 0 && errno != EINTR) break;
    if (!event_seen && ready > 0 && (fds[1].revents & POLLIN)) {
      const Events events = DrainEvents();
      event_seen = events.any;
      names_changed = events.names_changed;
    }
  }
  last_wake_ = std::chrono::steady_clock::now();
  return !stop.stop_requested();
}

}  // namespace sidecar
