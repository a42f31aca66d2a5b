#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

namespace sidecar {

// Decides when a log-tailing loop polls again (mtail's Waker). Injected into the collector that
// owns the loop, so that production waits on time or inotify while tests poll on their own.
//
// The loop is `while (waker.Wait(stop)) tailer.Poll(sink);`.
class Waker {
 public:
  virtual ~Waker() = default;

  // Blocks until it is time to poll (returns true) or `stop` is requested (returns false, promptly
  // and also when stop was already requested on entry). Called from one thread at a time.
  virtual bool Wait(std::stop_token stop) = 0;
};

// Wakes once per interval.
//
// Thread-safety: Wait() from one thread at a time.
class IntervalWaker final : public Waker {
 public:
  // Throws std::invalid_argument when `interval` is not positive.
  explicit IntervalWaker(std::chrono::milliseconds interval);
  IntervalWaker(const IntervalWaker&) = delete;
  IntervalWaker& operator=(const IntervalWaker&) = delete;

  bool Wait(std::stop_token stop) override;

 private:
  const std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable_any cv_;
};

// Wakes when a file is written, created or moved into the directories of `paths` (IN_MODIFY,
// IN_CREATE, IN_MOVED_TO, IN_DELETE_SELF, ...), and at the latest after `fallback_interval`, which
// covers what inotify misses: directories that do not exist yet (retried on every Wait), glob
// patterns with wildcards in their directory part, and network file systems.
//
// Bursts of writes are coalesced: Wait() returns at most once per `min_interval`, so a writer at
// full speed does not turn the loop into a busy one. A file created, moved or deleted in a
// watched directory wakes it at once: a new generation of a log is opened as soon as it appears,
// not after the coalescing delay.
//
// Owns an inotify fd and an eventfd (closed on destruction). Thread-safety: Wait() from one thread
// at a time.
class InotifyWaker final : public Waker {
 public:
  // `paths` are the tailer's paths or glob patterns; their parent directories are watched.
  // Throws std::invalid_argument on non-positive intervals, std::system_error when inotify is
  // unavailable (the caller can then fall back to IntervalWaker).
  InotifyWaker(const std::vector<std::string>& paths, std::chrono::milliseconds fallback_interval,
               std::chrono::milliseconds min_interval = std::chrono::milliseconds(50));
  ~InotifyWaker() override;
  InotifyWaker(const InotifyWaker&) = delete;
  InotifyWaker& operator=(const InotifyWaker&) = delete;

  bool Wait(std::stop_token stop) override;

 private:
  void AddMissingWatches();
  struct Events {
    bool any = false;
    bool names_changed = false;  // a file was created, moved or deleted
  };
  // Reads and discards pending events.
  Events DrainEvents();

  const std::chrono::milliseconds fallback_interval_;
  const std::chrono::milliseconds min_interval_;
  std::vector<std::string> directories_;
  std::vector<bool> watched_;
  int inotify_fd_ = -1;
  int event_fd_ = -1;  // written by a stop_callback to interrupt poll(2)
  std::chrono::steady_clock::time_point last_wake_{};
};

}  // namespace sidecar
