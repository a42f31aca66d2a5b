#pragma once

#include <chrono>
#include <cstddef>
#include <stop_token>
#include <string>

namespace sidecar {

// Bounds of one fetch of a document from the main container.
struct FetchLimits {
  // The fetch is cut off at this point.
  std::chrono::steady_clock::time_point deadline;
  // Documents larger than this are refused, so that a misbehaving main container cannot make
  // the sidecar buffer without bound.
  std::size_t max_body_bytes = 1 << 20;
  // Requested when the exporter shuts down: the fetch ends early.
  std::stop_token stop;
};

// A fetched document, or why there is none.
struct FetchedDocument {
  std::string body;
  std::string content_type;
  // Empty on success; otherwise what went wrong, ready to show to a person. The body is empty
  // then.
  std::string error;
  bool ok() const { return error.empty(); }
};

// Fetches one status document from the main container: over HTTP (HttpFetcher) or FastCGI.
// Status-page collectors own one and know nothing of the protocol behind it.
//
// Not thread-safe: one fetch at a time (collectors are never run concurrently with
// themselves), so implementations may keep a connection between fetches.
class Fetcher {
 public:
  virtual ~Fetcher() = default;

  // Never throws for expected failures (refused, slow, too large, a non-success status).
  // `body_storage` is the last document's body, given back so that the next body is received
  // into its capacity: a body of a few hundred KB in a new buffer costs a page fault per 4 KiB
  // at every scrape (large blocks are mmap()ed, see exporter/main.cc).
  virtual FetchedDocument Fetch(const FetchLimits& limits, std::string body_storage) = 0;

  // What is fetched, for a person: "GET http://127.0.0.1:8080/stub_status".
  virtual std::string Describe() const = 0;
};

}  // namespace sidecar
