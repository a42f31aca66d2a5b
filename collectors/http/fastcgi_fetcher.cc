#include "collectors/http/fastcgi_fetcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "collectors/core/unique_fd.h"

namespace sidecar {
namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kBeginRequest = 1;
constexpr std::uint8_t kEndRequest = 3;
constexpr std::uint8_t kParams = 4;
constexpr std::uint8_t kStdin = 5;
constexpr std::uint8_t kStdout = 6;
constexpr std::uint8_t kStderr = 7;
constexpr std::uint16_t kRequestId = 1;
constexpr std::size_t kHeaderBytes = 8;
constexpr std::size_t kMaxStderrBytes = 4096;
// A stop request is noticed within this long.
constexpr std::chrono::milliseconds kStopCheckInterval{50};

void AppendRecord(std::string& out, std::uint8_t type, std::string_view content) {
  const auto length = static_cast<std::uint16_t>(content.size());
  const char header[kHeaderBytes] = {static_cast<char>(kVersion),
                                     static_cast<char>(type),
                                     0,
                                     static_cast<char>(kRequestId),
                                     static_cast<char>(length >> 8),
                                     static_cast<char>(length & 0xff),
                                     0,
                                     0};
  out.append(header, kHeaderBytes);
  out.append(content);
}

void AppendLength(std::string& out, std::size_t length) {
  if (length < 128) {
    out.push_back(static_cast<char>(length));
  } else {
    out.push_back(static_cast<char>(0x80 | ((length >> 24) & 0x7f)));
    out.push_back(static_cast<char>((length >> 16) & 0xff));
    out.push_back(static_cast<char>((length >> 8) & 0xff));
    out.push_back(static_cast<char>(length & 0xff));
  }
}

std::string Errno(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

// Waits until `fd` is ready for `events`, the deadline passes or a stop is requested; the reason
// when it is not ready.
std::optional<std::string> WaitFor(int fd, short events, const FetchLimits& limits,
                                   std::string_view waiting_for) {
  for (;;) {
    if (limits.stop.stop_requested()) return "stopped: the exporter is shutting down";
    const auto now = std::chrono::steady_clock::now();
    if (now >= limits.deadline) return "timed out " + std::string(waiting_for);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(limits.deadline - now);
    pollfd entry{fd, events, 0};
    const int ready =
        ::poll(&entry, 1, static_cast<int>(std::min(left, kStopCheckInterval).count()) + 1);
    if (ready > 0) return std::nullopt;
    if (ready < 0 && errno != EINTR) return Errno("poll");
  }
}

}  // namespace

std::optional<FastCgiAddress> FastCgiAddress::Parse(std::string_view text, std::string& error) {
  FastCgiAddress address;
  if (text.starts_with("unix://")) {
    address.unix_path = std::string(text.substr(7));
    if (!address.unix_path.starts_with("/")) {
      error = "want an absolute socket path after unix://, such as unix:///run/php/php-fpm.sock";
      return std::nullopt;
    }
    if (address.unix_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      error = "socket path longer than " + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
              " bytes";
      return std::nullopt;
    }
    return address;
  }
  if (text.starts_with("tcp://")) {
    const std::string_view host_port = text.substr(6);
    const size_t colon = host_port.rfind(':');
    unsigned port = 0;
    if (colon != std::string_view::npos && colon > 0) {
      const std::string_view port_text = host_port.substr(colon + 1);
      const auto [end, ec] =
          std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
      if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
          port > 65535) {
        port = 0;
      }
    }
    if (port == 0) {
      error = "want tcp://host:port, such as tcp://127.0.0.1:9000";
      return std::nullopt;
    }
    std::string_view host = host_port.substr(0, colon);
    if (host.starts_with("[") && host.ends_with("]")) host = host.substr(1, host.size() - 2);
    address.host = std::string(host);
    address.port = static_cast<std::uint16_t>(port);
    return address;
  }
  error = "want unix:///path/to/socket or tcp://host:port";
  return std::nullopt;
}

FastCgiResponseReader::State FastCgiResponseReader::Fail(std::string message) {
  error_ = "FastCGI: " + std::move(message);
  pending_.clear();
  return state_ = State::kError;
}

FastCgiResponseReader::State FastCgiResponseReader::Feed(std::string_view bytes) {
  if (state_ != State::kNeedMore) return state_;
  pending_.append(bytes);
  std::size_t at = 0;
  while (pending_.size() - at >= kHeaderBytes) {
    const auto* header = reinterpret_cast<const unsigned char*>(pending_.data() + at);
    const std::uint8_t version = header[0];
    const std::uint8_t type = header[1];
    const std::uint16_t request_id = static_cast<std::uint16_t>(header[2] << 8 | header[3]);
    const std::size_t content_length = static_cast<std::size_t>(header[4] << 8 | header[5]);
    const std::size_t padding_length = header[6];
    if (version != kVersion) {
      return Fail("record version " + std::to_string(version) + ", want 1; not a FastCGI server");
    }
    if (type < kBeginRequest || type > 11) {
      return Fail("unknown record type " + std::to_string(type));
    }
    if (pending_.size() - at < kHeaderBytes + content_length + padding_length) break;
    const std::string_view content(pending_.data() + at + kHeaderBytes, content_length);
    at += kHeaderBytes + content_length + padding_length;
    if (request_id != kRequestId) {
      return Fail("record for request " + std::to_string(request_id) + ", want " +
                  std::to_string(kRequestId));
    }
    if (type == kStdout) {
      if (stdout_.size() + content.size() > max_stdout_bytes_) {
        return Fail("response larger than " + std::to_string(max_stdout_bytes_) + " bytes");
      }
      stdout_.append(content);
    } else if (type == kStderr) {
      stderr_.append(
          content.substr(0, kMaxStderrBytes - std::min(kMaxStderrBytes, stderr_.size())));
    } else if (type == kEndRequest) {
      if (content.size() < 8) {
        return Fail("END_REQUEST record of " + std::to_string(content.size()) + " bytes, want 8");
      }
      const auto* body = reinterpret_cast<const unsigned char*>(content.data());
      app_status_ = static_cast<std::uint32_t>(body[0]) << 24 |
                    static_cast<std::uint32_t>(body[1]) << 16 |
                    static_cast<std::uint32_t>(body[2]) << 8 | body[3];
      const std::uint8_t protocol_status = body[4];
      if (protocol_status != 0) {
        // 1: cannot multiplex, 2: overloaded, 3: unknown role.
        return Fail("request refused, protocol status " + std::to_string(protocol_status) +
                    (protocol_status == 2 ? " (overloaded)" : ""));
      }
      pending_.clear();
      return state_ = State::kDone;
    } else {
      return Fail("unexpected record type " + std::to_string(type) + " in a response");
    }
  }
  pending_.erase(0, at);
  return state_;
}

std::string FastCgiResponseReader::Truncated() const {
  if (pending_.size() >= kHeaderBytes) {
    const auto* header = reinterpret_cast<const unsigned char*>(pending_.data());
    const std::size_t length =
        kHeaderBytes + static_cast<std::size_t>(header[4] << 8 | header[5]) + header[6];
    return "FastCGI: connection closed inside a record (" + std::to_string(pending_.size()) +
           " of the " + std::to_string(length) + " bytes its header announced)";
  }
  return "FastCGI: connection closed before END_REQUEST (" + std::to_string(stdout_.size()) +
         " bytes of output" + (stderr_.empty() ? "" : "; stderr: " + stderr_.substr(0, 200)) + ")";
}

std::optional<CgiResponse> ParseCgiResponse(std::string_view stdout_bytes, std::string& error) {
  CgiResponse response;
  for (;;) {
    const size_t newline = stdout_bytes.find('\n');
    if (newline == std::string_view::npos) {
      error = "FastCGI: the response has no end of headers";
      return std::nullopt;
    }
    std::string_view line = stdout_bytes.substr(0, newline);
    stdout_bytes.remove_prefix(newline + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) break;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      error =
          "FastCGI: response header without a colon: \"" + std::string(line.substr(0, 60)) + "\"";
      return std::nullopt;
    }
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (value.starts_with(' ')) value.remove_prefix(1);
    if (name == "status") {
      const auto [end, ec] =
          std::from_chars(value.data(), value.data() + value.size(), response.status);
      if (ec != std::errc() || response.status < 100 || response.status > 999) {
        error = "FastCGI: bad Status header \"" + std::string(value.substr(0, 60)) + "\"";
        return std::nullopt;
      }
    } else if (name == "content-type") {
      response.content_type = std::string(value);
    }
  }
  response.body = std::string(stdout_bytes);
  return response;
}

std::string EncodeFastCgiRequest(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  // BEGIN_REQUEST: role 1 (responder), flags 0 (the server closes the connection after it).
  AppendRecord(out, kBeginRequest, std::string_view("\0\1\0\0\0\0\0\0", 8));
  std::string encoded;
  for (const auto& [name, value] : params) {
    AppendLength(encoded, name.size());
    AppendLength(encoded, value.size());
    encoded += name;
    encoded += value;
  }
  for (std::size_t at = 0; at < encoded.size(); at += 65535) {
    AppendRecord(out, kParams, std::string_view(encoded).substr(at, 65535));
  }
  AppendRecord(out, kParams, {});
  AppendRecord(out, kStdin, {});
  return out;
}

FastCgiFetcher::FastCgiFetcher(FastCgiAddress address, std::string address_text,
                               std::string script_path, std::string query)
    : address_(std::move(address)),
      address_text_(std::move(address_text)),
      script_path_(std::move(script_path)),
      query_(std::move(query)) {}

std::string FastCgiFetcher::Describe() const {
  return "FastCGI GET " + script_path_ + (query_.empty() ? "" : "?" + query_) + " at " +
         address_text_;
}

// Status pages of PHP-FPM are a few KB: the body is assembled from FastCGI records into a new
// buffer, and `body_storage` is not needed.
FetchedDocument FastCgiFetcher::Fetch(const FetchLimits& limits, std::string /*body_storage*/) {
  FetchedDocument document;
  const auto fail = [&document](std::string error) {
    document.error = std::move(error);
    return document;
  };

  // Connect, without blocking past the deadline.
  sockaddr_storage storage{};
  socklen_t storage_length = 0;
  int family = AF_UNIX;
  if (!address_.unix_path.empty()) {
    auto* un = reinterpret_cast<sockaddr_un*>(&storage);
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, address_.unix_path.c_str(), address_.unix_path.size() + 1);
    storage_length = sizeof(sockaddr_un);
  } else {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const int resolved =
        ::getaddrinfo(address_.host.c_str(), std::to_string(address_.port).c_str(), &hints, &found);
    if (resolved != 0 || found == nullptr) {
      return fail("resolve " + address_.host + ": " + gai_strerror(resolved));
    }
    std::memcpy(&storage, found->ai_addr, found->ai_addrlen);
    storage_length = found->ai_addrlen;
    family = found->ai_family;
    ::freeaddrinfo(found);
  }
  UniqueFd socket(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (socket.get() < 0) return fail(Errno("socket"));
  if (::connect(socket.get(), reinterpret_cast<sockaddr*>(&storage), storage_length) != 0) {
    if (errno == ENOENT) {
      return fail("connect: " + address_.unix_path +
                  " does not exist (yet): is php-fpm started, with this listen path?");
    }
    if (errno != EINPROGRESS && errno != EAGAIN) return fail(Errno("connect"));
    if (auto error = WaitFor(socket.get(), POLLOUT, limits, "connecting")) return fail(*error);
    int socket_error = 0;
    socklen_t length = sizeof socket_error;
    ::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &socket_error, &length);
    if (socket_error != 0) {
      errno = socket_error;
      return fail(Errno("connect"));
    }
  }

  // Send the request.
  const std::string request = EncodeFastCgiRequest({
      {"GATEWAY_INTERFACE", "CGI/1.1"},
      {"REQUEST_METHOD", "GET"},
      {"SCRIPT_FILENAME", script_path_},
      {"SCRIPT_NAME", script_path_},
      {"REQUEST_URI", script_path_ + (query_.empty() ? "" : "?" + query_)},
      {"QUERY_STRING", query_},
      {"SERVER_SOFTWARE", "sidecar-exporter"},
      {"SERVER_PROTOCOL", "HTTP/1.1"},
      {"REMOTE_ADDR", "127.0.0.1"},
      {"CONTENT_LENGTH", "0"},
  });
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t written =
        ::send(socket.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (written > 0) {
      sent += static_cast<std::size_t>(written);
    } else if (written < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (auto error = WaitFor(socket.get(), POLLOUT, limits, "sending the request")) {
        return fail(*error);
      }
    } else {
      return fail(Errno("send"));
    }
  }

  // Read records until END_REQUEST. STDOUT holds headers too, hence the allowance.
  FastCgiResponseReader reader(limits.max_body_bytes + 4096);
  char buffer[16384];
  for (;;) {
    if (auto error = WaitFor(socket.get(), POLLIN, limits, "waiting for the answer")) {
      return fail(*error);
    }
    const ssize_t received = ::recv(socket.get(), buffer, sizeof buffer, 0);
    if (received < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return fail(Errno("recv"));
    }
    if (received == 0) return fail(reader.Truncated());
    const auto state = reader.Feed(std::string_view(buffer, static_cast<std::size_t>(received)));
    if (state == FastCgiResponseReader::State::kError) return fail(reader.error());
    if (state == FastCgiResponseReader::State::kDone) break;
  }

  std::string error;
  std::optional<CgiResponse> response = ParseCgiResponse(reader.stdout_bytes(), error);
  if (!response) return fail(std::move(error));
  if (response->status < 200 || response->status > 299) {
    std::string message = "status " + std::to_string(response->status);
    if (!reader.stderr_bytes().empty()) message += "; stderr: " + reader.stderr_bytes();
    if (response->status == 404) {
      message += " (is " + script_path_ + " the pool's pm.status_path?)";
    }
    return fail(std::move(message));
  }
  if (response->body.size() > limits.max_body_bytes) {
    return fail("response larger than " + std::to_string(limits.max_body_bytes) + " bytes");
  }
  document.body = std::move(response->body);
  document.content_type = std::move(response->content_type);
  return document;
}

}  // namespace sidecar
