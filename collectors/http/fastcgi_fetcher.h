#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/http/fetcher.h"

namespace sidecar {

// Where a FastCGI server listens: "unix:///run/php/fpm.sock" or "tcp://127.0.0.1:9000".
struct FastCgiAddress {
  std::string unix_path;  // set for unix://
  std::string host;       // set for tcp://
  std::uint16_t port = 0;

  // Nullopt (and `error` set) for anything else.
  static std::optional<FastCgiAddress> Parse(std::string_view text, std::string& error);
};

// Reads the records a FastCGI application sends back for request id 1 (FastCGI 1.0: an 8-byte
// header, content, padding), collecting STDOUT and STDERR until END_REQUEST. Bytes may arrive in
// any split. Bounded: STDOUT beyond `max_stdout_bytes` and STDERR beyond 4 KiB are errors or
// dropped, never buffered.
//
// Not thread-safe; one per response.
class FastCgiResponseReader {
 public:
  enum class State { kNeedMore, kDone, kError };

  explicit FastCgiResponseReader(std::size_t max_stdout_bytes)
      : max_stdout_bytes_(max_stdout_bytes) {}

  // Consumes `bytes`; kDone once END_REQUEST arrived (later bytes are ignored), kError with
  // error() set when the stream is not a FastCGI response.
  State Feed(std::string_view bytes);
  // What the stream lacks when the connection ends in `state` kNeedMore.
  std::string Truncated() const;

  const std::string& error() const { return error_; }
  const std::string& stdout_bytes() const { return stdout_; }
  const std::string& stderr_bytes() const { return stderr_; }
  std::uint32_t app_status() const { return app_status_; }

 private:
  State Fail(std::string message);

  const std::size_t max_stdout_bytes_;
  std::string pending_;  // an incomplete record
  std::string stdout_;
  std::string stderr_;
  std::uint32_t app_status_ = 0;
  State state_ = State::kNeedMore;
  std::string error_;
};

// What a CGI response (the STDOUT of a FastCGI responder) says: "Status:" and the other headers,
// then the body.
struct CgiResponse {
  int status = 200;
  std::string content_type;
  std::string body;
};
std::optional<CgiResponse> ParseCgiResponse(std::string_view stdout_bytes, std::string& error);

// Encodes the records of one FastCGI request (BEGIN_REQUEST as a responder, PARAMS, empty STDIN).
std::string EncodeFastCgiRequest(const std::vector<std::pair<std::string, std::string>>& params);

// Fetches a document from a FastCGI application (PHP-FPM's status page) without a web server: a
// GET of `script_path` with `query`, one connection per fetch. The deadline bounds connecting,
// writing and reading together; a stop request ends the fetch within 50 ms; a body over the
// limit, a record stream that lies about its lengths or ends early, and a "Status:" outside 2xx
// are failures.
//
// Not thread-safe (see Fetcher).
class FastCgiFetcher final : public Fetcher {
 public:
  FastCgiFetcher(FastCgiAddress address, std::string address_text, std::string script_path,
                 std::string query);

  FetchedDocument Fetch(const FetchLimits& limits, std::string body_storage) override;
  std::string Describe() const override;

 private:
  const FastCgiAddress address_;
  const std::string address_text_;
  const std::string script_path_;
  const std::string query_;
};

}  // namespace sidecar
