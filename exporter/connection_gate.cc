#include "exporter/connection_gate.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

namespace sidecar {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kListenTag = ~std::uint64_t{0};
constexpr std::uint64_t kWakeTag = kListenTag - 1;
// What one recv of a relay takes: a large exposition passes in few system calls.
constexpr std::size_t kRelayChunkBytes = 256 * 1024;
// A relay whose server side already finished may wait this long for a slow reader.
constexpr std::chrono::seconds kDrainTimeout{5};
// The server bounds a request's own time (collector timeouts, its write timeout); this only
// catches a relay that neither side moves any more.
constexpr std::chrono::minutes kRelayIdleTimeout{2};
constexpr std::chrono::milliseconds kSweepInterval{100};
constexpr std::string_view kHeaderTooLarge =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
    "Connection: close\r\n\r\n";

std::uint64_t Tag(int client_fd, bool backend) {
  return (static_cast<std::uint64_t>(client_fd) << 1) | (backend ? 1 : 0);
}

void SetNoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Binds `listen_address` (Prometheus form) and listens; throws with a reason otherwise.
UniqueFd Listen(const std::string& listen_address, int backlog) {
  const std::optional<SocketAddress> address = ParseListenAddress(listen_address);
  if (!address) {
    throw std::runtime_error("invalid listen address \"" + listen_address +
                             "\"; want host:port, :port or [v6addr]:port");
  }
  UniqueFd fd(socket(address->storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address->storage), address->length) != 0 ||
      listen(fd.get(), backlog) != 0) {
    throw std::runtime_error("cannot listen on " + listen_address + ": " + std::strerror(errno));
  }
  return fd;
}

// Where the request header ends in `data` (just past its blank line), or 0 while incomplete.
std::size_t HeaderEnd(std::string_view data) {
  for (std::size_t i = 0; i + 1 < data.size(); ++i) {
    if (data[i] != '\n') continue;
    if (data[i + 1] == '\n') return i + 2;
    if (data[i + 1] == '\r' && i + 2 < data.size() && data[i + 2] == '\n') return i + 3;
  }
  return 0;
}

}  // namespace

std::optional<SocketAddress> ParseListenAddress(std::string_view listen_address) {
  const size_t colon = listen_address.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(listen_address.substr(0, colon));
  const std::string_view port_text = listen_address.substr(colon + 1);
  int port = -1;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    return std::nullopt;
  }
  SocketAddress address{};
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') return std::nullopt;
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6->sin6_addr) != 1) {
      return std::nullopt;
    }
    address.length = sizeof(sockaddr_in6);
    return address;
  }
  if (host == "localhost") host = "127.0.0.1";
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  v4->sin_family = AF_INET;
  v4->sin_port = htons(static_cast<uint16_t>(port));
  v4->sin_addr.s_addr = htonl(INADDR_ANY);
  if (!host.empty() && inet_pton(AF_INET, host.c_str(), &v4->sin_addr) != 1) return std::nullopt;
  address.length = sizeof(sockaddr_in);
  return address;
}

ConnectionGate::ConnectionGate(ConnectionGateOptions options) : options_(std::move(options)) {
  listen_fd_ = Listen(options_.listen_address, options_.listen_backlog);
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&bound), &length);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  backend_address_.sin_family = AF_INET;
  backend_address_.sin_port = htons(static_cast<uint16_t>(options_.backend_port));
  backend_address_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  peek_buffer_.resize(options_.max_header_bytes + 1);
  relay_scratch_ = std::make_unique_for_overwrite<char[]>(kRelayChunkBytes);
  epoll_fd_.Reset(epoll_create1(EPOLL_CLOEXEC));
  wake_fd_.Reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll_fd_.valid() || !wake_fd_.valid()) {
    throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kListenTag;
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_.get(), &event);
  event.data.u64 = kWakeTag;
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &event);
  thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

ConnectionGate::~ConnectionGate() {
  thread_.request_stop();
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = write(wake_fd_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void ConnectionGate::Run(std::stop_token stop) {
  // OpenSSL writes to a TLS client with write(), which raises SIGPIPE when the client is gone; in
  // this thread it stays blocked (the write fails with EPIPE), whatever the process does with it.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
  std::vector<epoll_event> events(256);
  Clock::time_point last_sweep = Clock::now();
  std::optional<Clock::time_point> drain_until;
  while (true) {
    if (stop.stop_requested() && !drain_until) {
      drain_until = Clock::now() + options_.stop_drain_timeout;
      BeginDrain();
    }
    if (drain_until && (relays_ == 0 || Clock::now() >= *drain_until)) break;
    const int count = epoll_wait(epoll_fd_.get(), events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(kSweepInterval.count()));
    for (int i = 0; i < count; ++i) {
      const std::uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) continue;
      if (tag == kListenTag) {
        if (!draining_) AcceptAll();
        continue;
      }
      const auto it = connections_.find(static_cast<int>(tag >> 1));
      if (it == connections_.end()) continue;  // closed earlier in this batch
      Connection& connection = it->second;
      const bool from_backend = (tag & 1) != 0;
      if (!from_backend && (events[i].events & (EPOLLERR | EPOLLHUP)) != 0) {
        Close(it->first);  // the client is gone; nothing it could still be sent matters
      } else if (from_backend && connection.state != State::kRelaying) {
        connection.backend.Reset();  // a kept connection the server reset: open another later
      } else if (connection.state == State::kWaiting) {
        OnClientReadable(connection);
      } else if (connection.state == State::kRelaying) {
        Pump(connection);
      }
    }
    if (!draining_) StartRelays();
    const Clock::time_point now = Clock::now();
    if (now - last_sweep >= kSweepInterval) {
      Sweep(now);
      last_sweep = now;
    }
  }
  connections_.clear();  // closes every descriptor
}

void ConnectionGate::BeginDrain() {
  draining_ = true;
  // New connections are refused from now on; requests not yet passed on were not handled, so
  // closing them loses nothing (the client tries the next instance).
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, listen_fd_.get(), nullptr);
  listen_fd_.Reset();
  ready_.clear();
  std::vector<int> idle;
  for (const auto& [fd, connection] : connections_) {
    if (connection.state != State::kRelaying) idle.push_back(fd);
  }
  for (const int fd : idle) Close(fd);
}

void ConnectionGate::AcceptAll() {
  while (true) {
    const int fd = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && waiting_ > 0) {
        CloseOldestWaiting();
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        // Out of descriptors with nothing to give back: stop accepting until the next sweep
        // instead of spinning on a listening socket that stays readable.
        epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, listen_fd_.get(), nullptr);
        accepting_ = false;
      }
      return;
    }
    if (waiting_ >= options_.max_waiting) CloseOldestWaiting();
    SetNoDelay(fd);
    Connection& connection = connections_[fd];
    connection.client.Reset(fd);
    if (options_.tls != nullptr) {
      // Responses leave from a buffer that may move between retries, in as many pieces as the
      // socket takes (the session allows both).
      connection.tls = TlsServerSession::Accept(*options_.tls, fd);
      if (!connection.tls) {
        connections_.erase(fd);
        continue;
      }
    }
    connection.arrival = ++arrivals_;
    Wait(connection);
    epoll_event event{};
    // Edge-triggered while waiting: the header is only peeked at, so the socket stays readable
    // and a level-triggered watch would wake on it again and again.
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    event.data.u64 = Tag(fd, false);
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event);
    connection.client_events = event.events;
  }
}

void ConnectionGate::Wait(Connection& connection) {
  connection.state = State::kWaiting;
  connection.deadline = Clock::now() + options_.header_timeout;
  ++waiting_;
}

long ConnectionGate::ReceiveFrom(int fd, char* data, std::size_t size) {
  const ssize_t got = recv(fd, data, size, MSG_DONTWAIT);
  if (got >= 0) return got;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENOTCONN
             ? kWouldBlock
             : kFailed;
}

long ConnectionGate::SendTo(int fd, const char* data, std::size_t size) {
  const ssize_t sent = send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent > 0) return sent;
  return sent == 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENOTCONN
             ? kWouldBlock
             : kFailed;
}

long ConnectionGate::ReadClient(Connection& connection, char* data, std::size_t size) {
  if (!connection.tls) return ReceiveFrom(connection.client.get(), data, size);
  const TlsServerSession::Transfer got = connection.tls->Read(data, size);
  connection.tls_read_wants_write = false;
  switch (got.status) {
    case TlsServerSession::Status::kOk:
      return static_cast<long>(got.bytes);
    case TlsServerSession::Status::kWantRead:
      return kWouldBlock;
    case TlsServerSession::Status::kWantWrite:
      connection.tls_read_wants_write = true;
      return kWouldBlock;
    case TlsServerSession::Status::kClosed:
      return 0;  // close_notify: the client sends nothing more
    default:
      return kFailed;
  }
}

long ConnectionGate::WriteClient(Connection& connection, const char* data, std::size_t size) {
  if (!connection.tls) return SendTo(connection.client.get(), data, size);
  const TlsServerSession::Transfer sent = connection.tls->Write(data, size);
  connection.tls_write_wants_read = false;
  switch (sent.status) {
    case TlsServerSession::Status::kOk:
      return static_cast<long>(sent.bytes);
    case TlsServerSession::Status::kWantWrite:
      return kWouldBlock;
    case TlsServerSession::Status::kWantRead:
      connection.tls_write_wants_read = true;
      return kWouldBlock;
    default:
      return kFailed;
  }
}

bool ConnectionGate::Handshake(Connection& connection) {
  switch (connection.tls->Handshake()) {
    case TlsServerSession::Status::kOk:
      connection.handshake_done = true;
      connection.client_certificate = connection.tls->PeerCertificate();
      return true;
    case TlsServerSession::Status::kWantRead:
      Watch(connection, EPOLLIN | EPOLLRDHUP | EPOLLET, 0);
      return true;
    case TlsServerSession::Status::kWantWrite:
      Watch(connection, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, 0);
      return true;
    default:  // not TLS, no common version or cipher, a certificate that failed verification...
      Close(connection.client.get());
      return false;
  }
}

void ConnectionGate::OnClientReadable(Connection& connection) {
  const int client = connection.client.get();
  std::string_view sent;  // what the client sent so far, from its next request's first byte
  if (connection.tls) {
    if (!connection.handshake_done && (!Handshake(connection) || !connection.handshake_done)) {
      return;
    }
    // Edge-triggered: read until the session has nothing more (or the header is too large).
    while (connection.received.size() <= options_.max_header_bytes) {
      const long got = ReadClient(connection, peek_buffer_.data(), peek_buffer_.size());
      if (got == kWouldBlock) break;
      if (got <= 0) {
        Close(client);
        return;
      }
      connection.received.append(peek_buffer_.data(), static_cast<std::size_t>(got));
    }
    Watch(connection,
          EPOLLIN | EPOLLRDHUP | EPOLLET | (connection.tls_read_wants_write ? EPOLLOUT : 0u), 0);
    sent = connection.received;
  } else {
    // The header stays in the socket: the server reads it from there, so nothing is buffered
    // here while a client trickles.
    const ssize_t got =
        recv(client, peek_buffer_.data(), peek_buffer_.size(), MSG_PEEK | MSG_DONTWAIT);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      Close(client);
      return;
    }
    if (got < 0) return;
    sent = std::string_view(peek_buffer_.data(), static_cast<std::size_t>(got));
  }
  const std::size_t end = HeaderEnd(sent);
  if (end == 0) {
    if (sent.size() > options_.max_header_bytes) {
      WriteClient(connection, kHeaderTooLarge.data(), kHeaderTooLarge.size());
      Close(client);
    }
    return;
  }
  connection.header_bytes = end;
  // GET and HEAD carry no body: the header alone goes on, and the next request on the connection
  // passes the gate again. Anything else (a method with a body) is relayed both ways until the
  // response is complete, and the connection closed then.
  connection.relay_client_bytes = !(sent.starts_with("GET ") || sent.starts_with("HEAD "));
  connection.state = State::kReady;
  --waiting_;
  ready_.emplace_back(connection.client.get(), connection.arrival);
}

void ConnectionGate::StartRelays() {
  while (relays_ < options_.max_relays && !ready_.empty()) {
    const auto [fd, arrival] = ready_.front();
    ready_.pop_front();
    const auto it = connections_.find(fd);
    if (it == connections_.end() || it->second.arrival != arrival ||
        it->second.state != State::kReady) {
      continue;  // closed (and perhaps reused) since it became ready
    }
    if (!StartRelay(it->second)) Close(fd);
  }
}

bool ConnectionGate::ConnectBackend(Connection& connection) {
  connection.backend.Reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!connection.backend.valid()) return false;
  SetNoDelay(connection.backend.get());
  if (connect(connection.backend.get(), reinterpret_cast<const sockaddr*>(&backend_address_),
              sizeof backend_address_) != 0 &&
      errno != EINPROGRESS) {
    return false;
  }
  connection.backend_events = 0;
  connection.backend_done = false;
  connection.backend_shut = false;
  epoll_event event{};
  event.data.u64 = Tag(connection.client.get(), true);
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, connection.backend.get(), &event);
  return true;
}

bool ConnectionGate::StartRelay(Connection& connection) {
  // The connection kept from the previous request, unless the server closed it meanwhile (its
  // keep-alive is short, so that it holds no worker for an idle client).
  if (connection.backend.valid()) {
    char byte = 0;
    const ssize_t peeked = recv(connection.backend.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (peeked >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) connection.backend.Reset();
  }
  if (!connection.backend.valid() && !ConnectBackend(connection)) return false;
  // The header goes on now; for GET and HEAD a pipelined next request stays (in the socket, or
  // decrypted in `received`) and passes the gate after this response.
  if (connection.tls) {
    connection.request.assign(connection.received, 0, connection.header_bytes);
    connection.received.erase(0, connection.header_bytes);
  } else {
    connection.request.resize(connection.header_bytes);
    const ssize_t got = recv(connection.client.get(), connection.request.data(),
                             connection.header_bytes, MSG_DONTWAIT);
    if (got <= 0) return false;
    connection.request.resize(static_cast<std::size_t>(got));
  }
  if (connection.client_certificate && !options_.client_certificate_header.empty()) {
    // First after the request line: a server reading the first header of a name gets this one.
    const std::size_t line_end = connection.request.find('\n');
    connection.request.insert(line_end + 1, options_.client_certificate_header + "\r\n");
  }
  connection.to_backend = {connection.request, 0};
  if (connection.relay_client_bytes) {
    connection.to_backend.data += connection.received;  // the body's first bytes, with TLS
    connection.received.clear();
  }
  connection.to_client = {};
  connection.response_waits_for_client = false;
  connection.client_done = false;
  connection.frame_response = !connection.relay_client_bytes;
  connection.head_request = connection.request.starts_with("HEAD ");
  connection.close_after_response = connection.relay_client_bytes;
  connection.resent = false;
  connection.response_head.clear();
  connection.response_bytes = 0;
  connection.response_length.reset();
  connection.state = State::kRelaying;
  connection.deadline = Clock::now() + kRelayIdleTimeout;
  ++relays_;
  Pump(connection);
  return true;
}

void ConnectionGate::FrameResponse(Connection& connection, std::string_view received) {
  connection.response_bytes += received.size();
  if (!connection.frame_response || connection.response_length) return;
  const std::size_t wanted =
      std::min(received.size(), options_.max_header_bytes - connection.response_head.size());
  connection.response_head.append(received.substr(0, wanted));
  const std::size_t head_end = connection.response_head.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    if (connection.response_head.size() >= options_.max_header_bytes) {
      connection.frame_response = false;  // not a response we can follow: relay until it closes
      connection.close_after_response = true;
    }
    return;
  }
  const std::string_view head = std::string_view(connection.response_head).substr(0, head_end);
  // Our server says "Connection: close" when the client asked for it (or spoke HTTP/1.0).
  connection.close_after_response |= head.find("\r\nConnection: close") != std::string_view::npos;
  constexpr std::string_view kLength = "\r\nContent-Length: ";
  const std::size_t at = head.find(kLength);
  std::size_t body = 0;
  if (at == std::string_view::npos ||
      std::from_chars(head.data() + at + kLength.size(), head.data() + head.size(), body).ec !=
          std::errc()) {
    connection.frame_response = false;  // no length: the response ends when the server closes
    connection.close_after_response = true;
  } else {
    connection.response_length = head_end + 4 + (connection.head_request ? 0 : body);
  }
  connection.response_head = {};
}

void ConnectionGate::Pump(Connection& connection) {
  const int client = connection.client.get();
  const int backend = connection.backend.get();
  bool failed = false;
  // Each returns whether it moved anything.
  // Each takes a send (or recv) in ReceiveFrom's terms, and returns whether it moved anything.
  const auto write_out = [&failed](Buffer& buffer, const auto& send_some) {
    bool moved = false;
    while (!buffer.empty() && !failed) {
      const long sent =
          send_some(buffer.data.data() + buffer.begin, buffer.data.size() - buffer.begin);
      if (sent == kWouldBlock) break;  // full, or the connect to the server still under way
      if (sent == kFailed) {
        failed = true;
      } else {
        buffer.begin += static_cast<std::size_t>(sent);
        moved = true;
      }
    }
    if (buffer.empty()) buffer = {};
    return moved;
  };
  // Reads a chunk into the gate's scratch buffer and sends at once what the other side takes of
  // it, so that a large response passes through without being buffered per connection (or
  // zero-filled first); only what the other side does not take yet waits in `buffer`. Returns
  // whether it read anything (or the end).
  const auto relay_chunk = [&](Buffer& buffer, bool& done, const auto& receive_some,
                               const auto& send_some, bool from_server) {
    if (!buffer.empty() || done || failed) return false;
    const long got = receive_some(relay_scratch_.get(), kRelayChunkBytes);
    if (got == 0) done = true;
    if (got == kFailed) failed = true;
    if (got <= 0) return got == 0;
    const std::string_view chunk(relay_scratch_.get(), static_cast<std::size_t>(got));
    if (from_server) FrameResponse(connection, chunk);
    std::size_t sent = 0;
    while (sent < chunk.size()) {
      const long some = send_some(chunk.data() + sent, chunk.size() - sent);
      if (some == kWouldBlock) break;
      if (some == kFailed) {
        failed = true;
        break;
      }
      sent += static_cast<std::size_t>(some);
    }
    buffer.data.assign(chunk.substr(sent));
    buffer.begin = 0;
    return true;
  };
  // A plain client's response is peeked at in the server's socket and taken from there only as
  // far as the client takes it, so that nothing waits in the gate per connection: sixteen
  // scrapers of a 4 MB exposition each left up to a chunk behind (and the allocator kept the
  // high-water mark). Returns whether it moved anything (or reached the end).
  const auto relay_response_in_place = [&] {
    if (connection.backend_done || failed) return false;
    const ssize_t got =
        recv(backend, relay_scratch_.get(), kRelayChunkBytes, MSG_PEEK | MSG_DONTWAIT);
    if (got == 0) {
      connection.backend_done = true;
      return true;
    }
    if (got < 0) {
      failed = !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENOTCONN);
      return false;
    }
    const long sent = SendTo(client, relay_scratch_.get(), static_cast<std::size_t>(got));
    if (sent == kFailed) failed = true;
    connection.response_waits_for_client = sent != got;
    if (sent <= 0) return false;
    // Only what the client took leaves the server's socket (MSG_TRUNC discards, copying nothing).
    if (recv(backend, nullptr, static_cast<std::size_t>(sent), MSG_TRUNC | MSG_DONTWAIT) != sent) {
      failed = true;
      return false;
    }
    FrameResponse(connection,
                  std::string_view(relay_scratch_.get(), static_cast<std::size_t>(sent)));
    return true;
  };
  const auto to_backend = [backend](const char* data, std::size_t size) {
    return SendTo(backend, data, size);
  };
  const auto from_backend = [backend](char* data, std::size_t size) {
    return ReceiveFrom(backend, data, size);
  };
  const auto to_client = [&](const char* data, std::size_t size) {
    return WriteClient(connection, data, size);
  };
  const auto from_client = [&](char* data, std::size_t size) {
    return ReadClient(connection, data, size);
  };

  bool moved_any = false;
  for (int round = 0; round < 64 && !failed; ++round) {
    bool moved = write_out(connection.to_backend, to_backend);
    if (connection.relay_client_bytes) {
      moved |= relay_chunk(connection.to_backend, connection.client_done, from_client, to_backend,
                           false);
    }
    moved |= write_out(connection.to_backend, to_backend);
    if (connection.tls) {
      // TLS records are written whole: what the client has not taken waits in `to_client`.
      moved |=
          relay_chunk(connection.to_client, connection.backend_done, from_backend, to_client, true);
      moved |= write_out(connection.to_client, to_client);
    } else {
      moved |= relay_response_in_place();
    }
    if (!moved) break;
    moved_any = true;
  }
  if (failed) {
    Close(client);
    return;
  }
  if (connection.client_done && connection.to_backend.empty() && !connection.backend_shut) {
    // The client finished sending (a half-close) but still reads: so does the server.
    shutdown(backend, SHUT_WR);
    connection.backend_shut = true;
  }
  if (connection.backend_done && connection.frame_response && connection.response_bytes == 0 &&
      !connection.resent) {
    // The kept connection closed just as the request went out: once more on a new one.
    connection.resent = true;
    if (!ConnectBackend(connection)) {
      Close(client);
      return;
    }
    connection.to_backend = {connection.request, 0};
    Pump(connection);
    return;
  }
  const bool response_complete =
      connection.backend_done ||
      (connection.response_length && connection.response_bytes >= *connection.response_length);
  if (response_complete && connection.to_client.empty()) {
    FinishResponse(connection);
    return;
  }
  const Clock::time_point now = Clock::now();
  if (moved_any) {
    connection.deadline = now + (connection.backend_done ? Clock::duration(kDrainTimeout)
                                                         : Clock::duration(kRelayIdleTimeout));
  }
  const bool client_full = !connection.to_client.empty() || connection.response_waits_for_client;
  std::uint32_t client_events = client_full ? static_cast<std::uint32_t>(EPOLLOUT) : 0u;
  if (connection.relay_client_bytes && connection.to_backend.empty() && !connection.client_done) {
    client_events |= EPOLLIN;
  }
  if (connection.tls_write_wants_read) client_events |= EPOLLIN;
  if (connection.tls_read_wants_write) client_events |= EPOLLOUT;
  std::uint32_t backend_events =
      connection.to_backend.empty() ? 0u : static_cast<std::uint32_t>(EPOLLOUT);
  if (!client_full && !connection.backend_done) backend_events |= EPOLLIN;
  Watch(connection, client_events, backend_events);
}

void ConnectionGate::FinishResponse(Connection& connection) {
  const int client = connection.client.get();
  if (draining_ || connection.close_after_response ||
      (connection.response_length && connection.response_bytes > *connection.response_length)) {
    Close(client);
    return;
  }
  if (connection.backend_done) {
    connection.backend.Reset();  // closing it also leaves the epoll set
  } else {
    Watch(connection, connection.client_events, 0);  // kept for the next request
  }
  --relays_;
  Wait(connection);
  Watch(connection, EPOLLIN | EPOLLRDHUP | EPOLLET, 0);
  // A pipelined request may already be whole in the socket.
  OnClientReadable(connection);
}

void ConnectionGate::Watch(Connection& connection, std::uint32_t client_events,
                           std::uint32_t backend_events) {
  if (client_events != connection.client_events) {
    epoll_event event{};
    event.events = client_events;
    event.data.u64 = Tag(connection.client.get(), false);
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, connection.client.get(), &event);
    connection.client_events = client_events;
  }
  if (connection.backend.valid() && backend_events != connection.backend_events) {
    epoll_event event{};
    event.events = backend_events;
    event.data.u64 = Tag(connection.client.get(), true);
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, connection.backend.get(), &event);
    connection.backend_events = backend_events;
  }
}

void ConnectionGate::Close(int client_fd) {
  const auto it = connections_.find(client_fd);
  if (it == connections_.end()) return;
  if (it->second.state == State::kWaiting) --waiting_;
  if (it->second.state == State::kRelaying) --relays_;
  // A TLS client is told the session ends (close_notify), as far as the socket takes it now.
  if (it->second.tls && it->second.handshake_done) it->second.tls->Shutdown();
  connections_.erase(it);  // closing a descriptor also removes it from the epoll set
}

void ConnectionGate::CloseOldestWaiting() {
  int oldest = -1;
  std::uint64_t oldest_arrival = ~std::uint64_t{0};
  for (const auto& [fd, connection] : connections_) {
    if (connection.state == State::kWaiting && connection.arrival < oldest_arrival) {
      oldest = fd;
      oldest_arrival = connection.arrival;
    }
  }
  if (oldest >= 0) Close(oldest);
}

void ConnectionGate::Sweep(Clock::time_point now) {
  std::vector<int> expired;
  for (const auto& [fd, connection] : connections_) {
    if (connection.deadline <= now) expired.push_back(fd);
  }
  for (const int fd : expired) Close(fd);
  if (!accepting_ && !draining_) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = kListenTag;
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_.get(), &event);
    accepting_ = true;
  }
}

}  // namespace sidecar
